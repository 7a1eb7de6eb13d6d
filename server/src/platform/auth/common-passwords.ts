/** placeholder, replaced below */
export const COMMON_PASSWORDS: ReadonlySet<string> = new Set(['password', 'qwerty', 'letmein', 'welcome', 'admin', 'iloveyou', 'monkey', 'dragon']);
