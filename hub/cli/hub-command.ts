// `lonewatch hub`: runs the hub until SIGINT/SIGTERM, then stops cleanly; SIGHUP reloads the TLS
// certificate.
import { defineCommand } from '../../bin/command.js';
import { Hub, reachProblemsWith, StartRefused } from '../hub.js';
import { TlsMaterialError } from '../tls/tls-material.js';
import type { Logger } from '../logger.js';
import { contactFromConfig } from '../admin/admin-service.js';
import { CONFIG_OPTION, loadConfigOrExit, openStore } from './open-store.js';
import { PostgresStoreError } from '../store/postgres-errors.js';

export const hubCommand = defineCommand({
  name: 'hub',
  summary: 'run the hub: MQTT broker, rules, store and HTTP (what `npm start` runs)',
  details: [
    'Reads ./lonewatch.toml (or --config); see lonewatch.example.toml for every key.',
    'Environment: LONEWATCH_MQTT_PORT, LONEWATCH_HTTP_PORT, LONEWATCH_DATA_DIR override the ports and data folder.',
    'SIGHUP: re-reads the [tls] certificate files; new connections get the new certificate, open ones stay.',
  ].join('\n'),
  options: {
    ...CONFIG_OPTION,
    drill: { type: 'boolean', description: 'drill mode: every alarm is marked as a drill' },
    check: { type: 'boolean', description: 'check the config and list what the escalation policies cannot reach (channels not configured, contacts missing), then exit; 1 when there are problems' },
    strict: { type: 'boolean', description: 'refuse to start while a policy names a channel or contact that does not exist' },
  },
  async run(values) {
    const config = loadConfigOrExit(values.config);
    if (values.drill) config.hub.drill = true;
    if (values.check) {
      const store = await openStore(config);
      try {
        // The contacts the hub would hold: those in the database, and the config's on top (nothing is written).
        const contacts = new Map((await store.read((tx) => tx.listContacts())).map((c) => [c.id, c]));
        for (const c of config.contacts) contacts.set(c.id, contactFromConfig(c));
        const problems = reachProblemsWith(config, [...contacts.values()]);
        if (problems.length === 0) {
          process.stdout.write('the configuration is valid; every escalation policy reaches someone on every channel it names\n');
          return 0;
        }
        process.stdout.write(`the configuration is valid, but the escalation policies have ${problems.length} problem(s):\n`);
        for (const p of problems) process.stdout.write(`  - ${p.message}\n`);
        return 1;
      } finally {
        await store.close();
      }
    }
    // Signals are caught from the start: a stop asked for while the hub is starting waits for it.
    let stopRequested: string | null = null;
    let hub: Hub | null = null;
    const stop = (signal: string) => {
      stopRequested = signal;
      if (!hub) return;
      hub.log.info({ signal }, 'stopping');
      hub.stop().then(
        () => process.exit(0),
        (err) => {
          hub?.log.error({ err }, 'unclean stop');
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    try {
      hub = await Hub.start({ config, strict: Boolean(values.strict) });
    } catch (err) {
      if (err instanceof TlsMaterialError) {
        process.stderr.write(`lonewatch: the [tls] files are not usable; nothing was started.\n${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof StartRefused) {
        process.stderr.write(`lonewatch: ${err.message}\n`);
        return 1;
      }
      if (err instanceof PostgresStoreError) {
        process.stderr.write(`lonewatch: ${err.message}; nothing was started.\n`);
        return 1;
      }
      throw err;
    }
    reloadTlsOnSighup(hub);
    if (stopRequested) stop(stopRequested);
    await new Promise(() => undefined);
    return 0;
  },
});

/**
 * SIGHUP re-reads the certificate files (the usual signal for "reload your configuration", which a
 * certificate renewal hook such as certbot's deploy hook sends). Returns the function that removes
 * the handler.
 */
export function reloadTlsOnSighup(node: { log: Logger; reloadTls(): unknown }): () => void {
  const onHup = (): void => {
    node.log.info({ signal: 'SIGHUP' }, 'SIGHUP: reloading the TLS certificate');
    node.reloadTls();
  };
  process.on('SIGHUP', onHup);
  return () => process.off('SIGHUP', onHup);
}
