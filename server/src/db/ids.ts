import { v7 as uuidv7 } from 'uuid';

/** Time-ordered text ids (UUIDv7): portable across SQLite and PostgreSQL, sortable by creation. */
export const newId = (): string => uuidv7();
export const now = (): number => Date.now();
