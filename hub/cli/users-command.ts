// `lonewatch users add|list|password|sign-out|disable`: dashboard and companion accounts. The first admin
// is created here (`users add NAME --admin`); after that admins can also add users from the dashboard.
import { randomBytes } from 'node:crypto';
import { defineCommand, UsageError } from '../../bin/command.js';
import { ApiError, createUser, publicUser, setPassword, setUserDisabled } from '../http/users.js';
import { USER_ROLES, type UserRole } from '../store/store-types.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** A password from stdin (--password-stdin), or a generated one printed once. */
async function passwordFrom(values: { 'password-stdin'?: boolean }): Promise<{ password: string; generated: boolean }> {
  if (values['password-stdin']) return { password: await readStdin(), generated: false };
  return { password: randomBytes(15).toString('base64url'), generated: true };
}

export const usersCommand = defineCommand({
  name: 'users',
  summary: 'dashboard and companion accounts: add (the first admin too), list, password, sign-out, disable',
  usage: 'users <add|list|password|sign-out|disable|enable> [username] [options]',
  details: [
    'add [username] --admin                      the first admin (username "admin" if none given)',
    'add <username> --role duty_officer|manager|admin',
    'add <username> --role worker --worker W     a worker\'s own account for the phone companion',
    'list                                        every user with role and state',
    'password <username>                         set a new password',
    'sign-out <username>                         end every session of the user (a lost phone)',
    'disable|enable <username>                   refuse or allow sign-in (disabling signs out too)',
    '',
    'Without --password-stdin a strong password is generated and printed once.',
  ].join('\n'),
  allowPositionals: true,
  options: {
    ...CONFIG_OPTION,
    admin: { type: 'boolean', description: 'shorthand for --role admin' },
    role: { type: 'string', placeholder: 'role', description: USER_ROLES.join(', ') },
    worker: { type: 'string', placeholder: 'id', description: 'for role worker: the worker this account belongs to' },
    name: { type: 'string', placeholder: 'name', description: "the person's name, as shown in timelines" },
    'password-stdin': { type: 'boolean', description: 'read the password from the first line of stdin' },
    json: { type: 'boolean', description: 'machine-readable output' },
  },
  async run(values, positionals) {
    const [action, username] = positionals;
    if (!action) throw new UsageError('say what to do: add, list, password, sign-out, disable or enable');
    const config = loadConfigOrExit(values.config);
    const store = await openStore(config);
    const actor = 'cli';
    try {
      switch (action) {
        case 'add': {
          // `users add --admin` alone creates the first admin, called "admin".
          if (!username && !values.admin) throw new UsageError('users add needs a username');
          if (values.admin && values.role && values.role !== 'admin') throw new UsageError('--admin and --role disagree');
          const role = (values.admin ? 'admin' : values.role) as UserRole | undefined;
          if (!role) throw new UsageError(`users add needs --admin or --role (${USER_ROLES.join(', ')})`);
          const { password, generated } = await passwordFrom(values);
          const user = await createUser(store, { username: username ?? 'admin', role, password, name: values.name, workerId: values.worker ?? null }, actor, Date.now());
          if (values.json) process.stdout.write(JSON.stringify({ user: publicUser(user), ...(generated ? { password } : {}) }) + '\n');
          else process.stdout.write(`added ${user.username} (${user.role}${user.workerId ? `, worker ${user.workerId}` : ''})\n${generated ? `password: ${password}\n(shown once)\n` : ''}`);
          return 0;
        }
        case 'list': {
          const users = await store.read((tx) => tx.listUsers());
          if (values.json) process.stdout.write(JSON.stringify(users.map(publicUser), null, 2) + '\n');
          else for (const u of users) process.stdout.write(`${u.username.padEnd(24)}${u.role.padEnd(14)}${(u.workerId ?? '-').padEnd(16)}${u.disabledAt ? 'disabled' : 'active'}  ${u.name}\n`);
          return 0;
        }
        case 'password': {
          if (!username) throw new UsageError('users password needs a username');
          const { password, generated } = await passwordFrom(values);
          await setPassword(store, username, password, actor, Date.now());
          process.stdout.write(`new password set for ${username}\n${generated ? `password: ${password}\n(shown once)\n` : ''}`);
          return 0;
        }
        case 'sign-out': {
          if (!username) throw new UsageError('users sign-out needs a username');
          const n = await store.transaction(async (tx) => {
            if (!(await tx.getUser(username))) throw new ApiError(404, `no user ${username}`, 'username');
            const ended = await tx.deleteUserSessions(username);
            await tx.appendAudit({ at: Date.now(), actor, action: 'sessions.revoke', subject: `user:${username}`, detail: { sessions: ended } });
            return ended;
          });
          process.stdout.write(`${username}: ${n} session(s) ended\n`);
          return 0;
        }
        case 'disable':
        case 'enable':
          if (!username) throw new UsageError(`users ${action} needs a username`);
          await setUserDisabled(store, username, action === 'disable', actor, Date.now());
          process.stdout.write(`${username} ${action}d\n`);
          return 0;
        default:
          throw new UsageError(`unknown action "${action}"`);
      }
    } catch (err) {
      if (err instanceof ApiError) {
        process.stderr.write(`lonewatch users: ${err.message}\n`);
        return 1;
      }
      throw err;
    } finally {
      await store.close();
    }
  },
});
