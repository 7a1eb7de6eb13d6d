import { List, PasswordInput, Progress, Stack, Text } from '@mantine/core';
import { checkPassword, PASSWORD_POLICY } from './password-policy';

const COLORS = ['red', 'red', 'yellow', 'teal', 'green'];

/** New-password input with a strength meter and the policy explained. */
export function NewPasswordField({ value, onChange, username, email, label = 'New password', error }: { value: string; onChange(v: string): void; username?: string; email?: string; label?: string; error?: string }) {
  const check = checkPassword(value, username, email);
  return (
    <Stack gap={4}>
      <PasswordInput label={label} description={PASSWORD_POLICY} value={value} onChange={(e) => onChange(e.currentTarget.value)} autoComplete="new-password" required error={error} />
      {value ? (
        <>
          <Progress value={(check.score + 1) * 20} color={COLORS[check.score]} size="sm" aria-label={`Password strength: ${check.label}`} />
          <Text size="xs" c={check.acceptable ? 'dimmed' : 'red'} data-testid="password-strength">Strength: {check.label}</Text>
          {check.problems.length ? (
            <List size="xs" c="red">
              {check.problems.map((p) => <List.Item key={p}>{p}</List.Item>)}
            </List>
          ) : null}
        </>
      ) : null}
    </Stack>
  );
}
