import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { session } from './auth/session';

void session.start();
createRoot(document.getElementById('root')!).render(<App />);
