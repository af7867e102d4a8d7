/**
 * Every setting of the hub, in one validated schema (lonewatch.toml). Validated once at start-up;
 * the rest of the hub gets a typed HubConfig and never re-checks. Defaults make `npm start` work with
 * no file at all.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { CHANNELS, DEFAULT_POLICIES, TARGET_ROLES, type EscalationPolicy } from '../rules/escalation-policy.js';
import { ALARM_KINDS, type AlarmKind } from '../../shared/protocol-schemas.js';
import { crossCheckNotifiers, notifiersSchema } from '../notifiers/notifiers-config.js';
import { mapSchema } from './map-config.js';

export const DEFAULT_ALARM_POLICIES: Record<AlarmKind, string> = {
  sos: 'sos',
  covert_sos: 'sos',
  man_down: 'sos',
  missed_checkin: 'missed_checkin',
  device_silent: 'device_health',
  low_battery: 'device_health',
};

const port = z.int().min(0).max(65535);

/** A proxy the HTTP server may trust: an IP address, a CIDR range, or one of proxy-addr's names. */
const proxyAddress = z.string().refine(
  (v) => {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(v)) return true;
    const [addr, bits, ...rest] = v.split('/');
    const family = isIP(addr ?? '');
    if (!family || rest.length > 0) return false;
    if (bits === undefined) return true;
    if (!/^\d{1,3}$/.test(bits)) return false;
    return Number(bits) <= (family === 4 ? 32 : 128);
  },
  { error: 'must be an IP address, a CIDR range (e.g. "10.0.0.0/8"), "loopback", "linklocal" or "uniquelocal"' },
);
const minutes = z.number().positive().max(7 * 24 * 60);
const target = z.union([z.enum(TARGET_ROLES), z.string().regex(/^person:[A-Za-z0-9_.-]+$/, { error: 'must be a role or person:<contact id>' })]);

const levelSchema = z.strictObject({
  name: z.string().min(1),
  targets: z.array(target).min(1),
  channels: z.array(z.enum(CHANNELS)).min(1),
  delay_min: minutes,
});

const policySchema = z.strictObject({
  mode: z.enum(['all_at_once', 'step']),
  levels: z.array(levelSchema).min(1),
  repeat: z.int().min(0).max(100).default(0),
  re_alert_after_ack_min: minutes.default(15),
  police_after_sighting_min: minutes.nullable().default(null),
  senior_targets: z.array(target).default(['duty_officer', 'head_of_service', 'director']),
});

const contactSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  name: z.string().min(1).max(128),
  role: z.string().min(1).max(64),
  email: z.email().optional(),
  phone: z.string().max(32).optional(),
});

const workerSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  name: z.string().min(1).max(128),
  phone: z.string().max(32).optional(),
  home_address: z.string().max(256).optional(),
  medical_notes: z.string().max(1024).optional(),
  car: z.string().max(128).optional(),
  /** "Name (relationship): phone", one a line: read into records of name, relationship and phone at start-up. */
  emergency_contacts: z.string().max(512).optional(),
  buddy: z.string().max(64).optional(),
  line_manager: z.string().max(64).optional(),
  training_date: z.iso.date().optional(),
  new_starter: z.boolean().default(false),
  /** How the police would recognise the worker (private, R22): shown on the police hand-over. */
  description: z.string().max(512).optional(),
});

function defaultPolicies(): Record<string, z.output<typeof policySchema>> {
  const out: Record<string, z.output<typeof policySchema>> = {};
  for (const [name, p] of Object.entries(DEFAULT_POLICIES)) {
    out[name] = {
      mode: p.mode,
      levels: p.levels.map((l) => ({ name: l.name, targets: l.targets, channels: l.channels, delay_min: l.delayMin })),
      repeat: p.repeat,
      re_alert_after_ack_min: p.reAlertAfterAckMin,
      police_after_sighting_min: p.policeAfterSightingMin,
      senior_targets: p.seniorTargets,
    };
  }
  return out;
}

/**
 * Transport security (issue 17). Absent: no TLS, the hub listens as before (plain MQTT and HTTP).
 * Present: MQTTS on `mqtts_port`, HTTPS (and wss) on the HTTP port unless `https = false` (a reverse
 * proxy terminates HTTPS), the plain MQTT listener off unless `keep_plain_mqtt`. The files are read
 * and checked at start-up and on SIGHUP (hub/tls/tls-material.ts), not here.
 */
const tlsSchema = z
  .strictObject({
    cert_file: z.string().min(1, { error: 'the PEM file of the hub\'s certificate' }),
    key_file: z.string().min(1, { error: 'the PEM file of the certificate\'s private key' }),
    chain_file: z.string().min(1).optional(),
    mqtts_port: port.default(8883),
    https: z.boolean().default(true),
    keep_plain_mqtt: z.boolean().default(false),
    client_certs: z.enum(['off', 'optional', 'required']).default('off'),
    client_ca_file: z.string().min(1).optional(),
    /**
     * Issue 17: the CA (PEM) that signed cert_file, which `lonewatch flash` pins in RAK5010 fobs (their
     * BG96 verifies the hub against it). Read by the flashing tool only; the hub does not need it.
     */
    fob_ca_file: z.string().min(1, { error: 'the PEM file of the CA that signed the hub\'s certificate' }).optional(),
  })
  .superRefine((t, ctx) => {
    if (t.client_certs !== 'off' && !t.client_ca_file) {
      ctx.addIssue({ code: 'custom', path: ['client_ca_file'], message: `client_certs = "${t.client_certs}" needs client_ca_file: the CA that signs the fobs' certificates` });
    }
    if (t.client_certs === 'required' && t.keep_plain_mqtt) {
      ctx.addIssue({ code: 'custom', path: ['keep_plain_mqtt'], message: 'cannot be true with client_certs = "required": a plain listener carries no certificate' });
    }
  })
  .optional();

/**
 * The cluster (issue 19, docs/cluster.md): edges publish what fobs send to a JetStream stream and
 * workers consume it. Absent: the single hub, as `npm start` runs it. Read only by `lonewatch edge`,
 * `lonewatch worker` and `lonewatch cluster up`; `lonewatch hub` ignores it.
 */
const natsToken = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'letters, digits, "_" and "-" only (a NATS subject token or stream name)' });
const clusterSchema = z
  .strictObject({
    /** Every NATS server's client URL; a client is given them all and fails over between them. */
    servers: z.array(z.string().regex(/^(nats|tls):\/\/[^\s/]+$/, { error: 'a NATS URL such as nats://127.0.0.1:4222' })).min(1),
    /** User name for NATS; its password is read from the environment variable password_env. */
    user: z.string().min(1).max(128).optional(),
    password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    /** Or a token, read from the environment variable token_env (never written in the file). */
    token_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
    /** The stream that holds what the fobs sent, its subjects' prefix (`<prefix>.p<partition>.<deviceId>.<leaf>`, `<prefix>.bulk.<deviceId>.<leaf>`, an edge's batch envelopes `<prefix>.bulk.<edge>`) and replicas. */
    stream: natsToken.default('LW_IN'),
    subject_prefix: z.string().regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/).default('lw.in'),
    /** Commands for a fob go on `<command_prefix>.<deviceId>`; every edge listens to `<command_prefix>.*`. */
    command_prefix: z.string().regex(/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/).default('lw.cmd'),
    /** 3 keeps a stream writable with one server down; JetStream allows at most 5. */
    replicas: z.int().min(1).max(5).default(3),
    /**
     * Per-device ordering (docs/cluster.md "Order per device"): each device belongs to one of this
     * many partitions (a hash of its id); each partition has its own consumer with one message in
     * flight, so a device's messages are handled in order. Edges and workers must agree on it.
     */
    partitions: z.int().min(1).max(256).default(16),
    /** The durable consumers every worker shares, `<consumer>-p<n>` per partition and `<consumer>-bulk` (each message goes to one worker). */
    consumer: natsToken.default('lw-workers'),
    /**
     * Heartbeats, status and presence (the bulk lane, docs/cluster.md "Alarms ahead of bulk
     * traffic") are pulled and committed this many at a time: one batch, its transactions, then
     * every message of it acked. The bulk consumer allows 4 batches unacked at once (every worker
     * must have the same value: a worker refuses a bulk consumer made with another).
     */
    bulk_batch: z.int().min(1).max(10_000).default(250),
    /**
     * Issue 19, cluster ingest: an edge puts heartbeats, status and presence on the stream as batch
     * envelopes (hub/cluster/bulk-batcher.ts, bulk-envelope.ts), one JetStream publish for many
     * records, cut only while earlier publishes are in flight (no added latency when idle). false:
     * one message per record, as edges before envelopes did; for a rolling upgrade, while some
     * workers cannot read envelopes yet (docs/cluster.md "Batch envelopes").
     */
    edge_batching: z.boolean().default(true),
    /** Most records, and bytes, in one envelope (the stream's servers refuse a message over their max_payload, 1 MB by default). */
    edge_batch_records: z.int().min(1).max(10_000).default(500),
    edge_batch_bytes: z.int().min(1024).max(1_000_000).default(262_144),
    /** Envelope publishes an edge has out to JetStream at once; records arriving meanwhile wait for the next. */
    edge_batches_in_flight: z.int().min(1).max(8).default(2),
    /**
     * How long (ms) a bulk record that finds a publish slot free waits for others to share its
     * envelope; 0: it goes at once, alone. Heartbeats are QoS 0 from the firmware, so 20 ms costs a
     * fob nothing; at a steady fleet's rate it is what makes envelopes of more than one record
     * (docs/cluster.md "Steady state at 30,000 fobs"). Alarms and other events never wait: they are
     * not on the bulk lane.
     */
    edge_batch_linger_ms: z.int().min(0).max(1000).default(20),
    /**
     * Most records, and bytes, waiting at an edge for a publish slot; beyond them a QoS 1 publish
     * gets no PUBACK (the connection is dropped, the fob sends again) and a QoS 0 one is dropped and
     * counted. A fob holds one QoS 1 publish unacknowledged at a time, so above the edge's fobs.
     */
    edge_queue_records: z.int().min(100).max(1_000_000).default(50_000),
    edge_queue_bytes: z.int().min(65_536).max(1_073_741_824).default(16_777_216),
    /**
     * A message a worker took and did not ack within this is delivered again (to any worker). 3 s:
     * an SOS held by a worker killed as it handled it is redelivered within 3 s and acked to the fob
     * within issue 19's 5 s (R3); a live worker resets it every third while it works (`working`), so
     * only a dead or cut-off worker waits it out. Was 30 s: such an SOS waited up to 30 s.
     */
    ack_wait_ms: z.int().min(1000).max(600_000).default(3000),
    /** Deliveries of one message before JetStream stops offering it (each is logged by the worker). */
    max_deliver: z.int().min(2).max(100_000).default(1000),
    /** How long an edge waits for JetStream's publish acknowledgement before it refuses the fob's publish. */
    publish_timeout_ms: z.int().min(100).max(60_000).default(5000),
    /** This node's name in logs, messages and /healthz; default: host name and process id. */
    node_id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/).optional(),
    /**
     * Issue 19: the edges' MQTT addresses as fobs in the field reach them (`host:port`, in order of
     * preference). `lonewatch flash` writes them into each RAK5010's identity (lw.json `hs`) unless
     * given --hub; the fob tries the next on a refused or failed connect (docs/fob.md). Checked
     * again at flashing (firmware/flash/hub-address.ts parseFobEdges: loopback, repeats).
     */
    edges: z.array(z.string().regex(/^(\[[^\]\s]+\]|[^\s:[\]]+):\d{1,5}$/, { error: 'host:port, e.g. edge-1.example.org:1883' })).min(1).optional(),
    /**
     * Issue 19: the edges' MQTT-over-WebSocket URLs as phones reach them, in order of preference. The
     * companion is given them with its relay token and tries the next on a failed connect or a lost
     * connection (docs/companion.md "Across a cluster's edges"). Absent: the companion uses the page's
     * own /mqtt (a single hub). Needs relay_key_env: an edge must be able to verify the token.
     */
    edge_websockets: z.array(z.string().regex(/^wss?:\/\/[^\s/]+\/\S*$/, { error: 'a WebSocket URL such as wss://edge-1.example.org:8080/mqtt' })).min(1).optional(),
    /**
     * The environment variable holding the key (at least 32 characters) every node signs and checks
     * companion relay tokens with, so a token issued by one node verifies at every edge. Absent:
     * edges let no companion relay in.
     */
    relay_key_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.password_env && !c.user) ctx.addIssue({ code: 'custom', path: ['user'], message: 'password_env needs user: the NATS user the password is for' });
    if (c.token_env && c.user) ctx.addIssue({ code: 'custom', path: ['token_env'], message: 'set either user (with password_env) or token_env, not both' });
    if (c.edge_websockets && !c.relay_key_env) ctx.addIssue({ code: 'custom', path: ['relay_key_env'], message: 'edge_websockets needs relay_key_env: the edges must verify the relay tokens the companion is given' });
  })
  .optional();

/**
 * Where the hub keeps its state (issue 19). Without postgres_url: the embedded SQLite file in
 * [hub] data_dir (the single process, `npm start`). With it: PostgreSQL, which a cluster of hubs
 * shares. Only the form is checked here; the server is reached (and its schema migrated) at start-up.
 */
const postgresUrl = z.string().refine(
  (v) => {
    try {
      const u = new URL(v);
      return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a PostgreSQL URL: postgres://user@host:5432/database (the password can come from PGPASSWORD instead)' },
);

const storeSchema = z
  .strictObject({
    postgres_url: postgresUrl.optional(),
  })
  .prefault({});

export const hubConfigSchema = z
  .strictObject({
    hub: z
      .strictObject({
        name: z.string().default('Lonewatch'),
        data_dir: z.string().default('./data'),
        public_url: z.url().default('http://localhost:8080'),
        /** Drill mode marks every alarm as a drill (R: training, 003) and allows an injected clock. */
        drill: z.boolean().default(false),
      })
      .prefault({}),
    mqtt: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(1883),
        /** Heartbeats are written in batches at most this often. Alarms are never batched. */
        heartbeat_flush_ms: z.int().min(10).max(10_000).default(200),
        /** Most heartbeats held in memory before a flush is forced. */
        heartbeat_buffer_max: z.int().min(10).max(1_000_000).default(10_000),
        /**
         * Bounds before authentication (issue 17, item 1), on every MQTT listener (TCP, WebSocket):
         * the largest CONNECT and the largest later packet, in bytes, fixed header included; a
         * packet claiming more is cut from its header, before it is buffered. A fob's payload is at
         * most 256 bytes (LIMITS.fobPayloadMaxBytes) and its CONNECT a few hundred.
         */
        connect_max_bytes: z.int().min(128).max(65_536).default(1024),
        packet_max_bytes: z.int().min(512).max(1_048_576).default(1024),
        /** A connection whose whole CONNECT has not arrived within this is cut. */
        connect_deadline_ms: z.int().min(500).max(60_000).default(5000),
        /** Connections not yet accepted (no CONNACK) that one address, and everyone together, may hold. */
        unauthenticated_per_address: z.int().min(1).max(100_000).default(128),
        unauthenticated_max: z.int().min(1).max(1_000_000).default(2048),
        /**
         * How often the hub looks for device changes made by the CLI on the database file (revoke,
         * assign), in milliseconds; a revoked fob is disconnected within about this long.
         */
        device_check_ms: z.int().min(100).max(60_000).default(2000),
        /** Downstream systems that may subscribe to lw/alerts/# (and publish nothing). */
        services: z
          .array(
            z.strictObject({
              username: z.string().regex(/^svc-[A-Za-z0-9_-]{1,60}$/, { error: 'must start with "svc-" (so it can never be a device id in use)' }),
              /** Name of the environment variable holding the password; never the password itself. */
              password_env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/),
            }),
          )
          .default([]),
      })
      .prefault({}),
    http: z
      .strictObject({
        host: z.string().default('0.0.0.0'),
        port: port.default(8080),
        /**
         * Which reverse proxies' X-Forwarded-For to believe for the client's address (sign-in limits,
         * audit): false (none, the default), true (any), a hop count, or the proxies' addresses / CIDRs.
         */
        trust_proxy: z
          .union([z.boolean(), z.int().min(1).max(10), proxyAddress.transform((a) => [a]), z.array(proxyAddress).min(1)])
          .default(false),
        /**
         * How often the dashboard's live stream looks for changes another process committed to the
         * database (the CLI adding a worker, a fob or visits), in milliseconds; admin lists show them
         * within about this long. Changes made on the dashboard are pushed at once.
         */
        external_check_ms: z.int().min(100).max(60_000).default(2000),
      })
      .prefault({}),
    /**
     * The change feed (issue 18, hub/store/change-feed-reader.ts): the ordered log of changes the
     * dashboard's live events and the device watch read. Bounded so it cannot fill the disk: changes
     * older than retention_days, or beyond the newest max_rows, are pruned (a dashboard that was away
     * longer than that reloads everything instead of replaying). Commits of this process wake its
     * readers at once; poll_ms is how soon a commit by another process (the CLI opening the database
     * itself, another hub node) is seen when nothing tells of it sooner (on PostgreSQL the reader
     * LISTENs, so other nodes' commits are seen at once, at most one read per 50 ms, and the poll is
     * the fallback).
     */
    feed: z
      .strictObject({
        retention_days: z.int().min(1).max(365).default(7),
        max_rows: z.int().min(1000).max(10_000_000).default(100_000),
        poll_ms: z.int().min(50).max(60_000).default(1000),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
        pretty: z.enum(['auto', 'always', 'never']).default('auto'),
      })
      .prefault({}),
    rules: z
      .strictObject({
        checkin_grace_min: minutes.default(5),
        end_of_shift_after_min: minutes.default(30),
        /** A planned visit not started this long after its scheduled start runs the missed-check-in ladder (policy 003 3a, R13); false: off. */
        visit_start_grace_min: z.union([minutes, z.literal(false)]).default(15),
        /** After an overdue item is answered without being resolved (a check-in, an officer's close), it is asked again this much later. */
        overdue_recheck_min: minutes.default(30),
        heartbeat_interval_s: z.int().min(10).max(3600).default(300),
        /**
         * Seconds between GNSS fixes a RAK5010 takes during a visit (issue 20), pushed with the
         * heartbeat interval in `cfg` as `gp`; 0 = off (only alarms turn the receiver on). Each fix
         * costs about 1.5 mA on average at 600 s (docs/fob.md, power budget).
         */
        gnss_visit_period_s: z.union([z.literal(0), z.int().min(60).max(3600)]).default(600),
        device_silent_after_min: minutes.default(20),
        low_battery_percent: z.int().min(1).max(99).default(20),
        visit_policy_breach: z.enum(['refuse', 'flag']).default('refuse'),
        training_valid_years: z.int().min(1).max(10).default(3),
      })
      .prefault({}),
    /** Positions from fobs and phones (issue 20): private to the worker (R22), so kept no longer than needed. */
    positions: z
      .strictObject({
        /**
         * Days a fix is kept; the hub prunes older ones every hour. Fixes that belong to an alarm are
         * part of its record (R19, R20) and are never pruned.
         */
        retention_days: z.int({ error: 'a whole number of days' }).min(1, { error: 'at least 1 day' }).max(3650).default(30),
      })
      .prefault({}),
    /** Which policy each alarm kind escalates under. */
    alarm_policies: z
      .partialRecord(z.enum(ALARM_KINDS), z.string())
      .default({})
      .transform((given) => ({ ...DEFAULT_ALARM_POLICIES, ...given }) as Record<AlarmKind, string>),
    policies: z.record(z.string().regex(/^[a-z0-9_]+$/), policySchema).default(defaultPolicies),
    contacts: z.array(contactSchema).default([]),
    workers: z.array(workerSchema).default([]),
    /** Alert forwarding: e-mail, webhook, alarm receiving centre (hub/notifiers/notifiers-config.ts). */
    notifiers: notifiersSchema,
    /** The dashboard's map: its tile server, or none (offline map), hub/config/map-config.ts. */
    map: mapSchema,
    tls: tlsSchema,
    cluster: clusterSchema,
    store: storeSchema,
  });

/**
 * Checks between sections (a policy named by alarm_policies must exist; a worker's line manager must
 * be a contact). Run on the raw input as well as the parsed one, so that these problems are listed
 * together with every other problem instead of only once the rest is fixed.
 */
export function crossCheck(raw: Record<string, unknown>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const policies = typeof raw.policies === 'object' && raw.policies !== null ? Object.keys(raw.policies) : Object.keys(DEFAULT_POLICIES);
  const alarmPolicies = typeof raw.alarm_policies === 'object' && raw.alarm_policies !== null ? (raw.alarm_policies as Record<string, unknown>) : {};
  for (const [kind, name] of Object.entries(alarmPolicies)) {
    if (typeof name === 'string' && !policies.includes(name)) problems.push({ path: `alarm_policies.${kind}`, message: `no policy named "${name}" in [policies]` });
  }
  for (const kind of ALARM_KINDS) {
    const name = DEFAULT_ALARM_POLICIES[kind];
    if (alarmPolicies[kind] === undefined && !policies.includes(name)) {
      problems.push({ path: `alarm_policies.${kind}`, message: `defaults to policy "${name}", which [policies] does not define: name one` });
    }
  }
  const contacts = Array.isArray(raw.contacts) ? raw.contacts.map((c) => (c as { id?: unknown }).id) : [];
  if (Array.isArray(raw.workers)) {
    raw.workers.forEach((w, i) => {
      const lm = (w as { line_manager?: unknown }).line_manager;
      if (typeof lm === 'string' && !contacts.includes(lm)) problems.push({ path: `workers.${i}.line_manager`, message: `no contact "${lm}" in [[contacts]]` });
    });
  }
  problems.push(...crossCheckNotifiers(raw.notifiers));
  return problems;
}

export type HubConfig = z.output<typeof hubConfigSchema>;
export type TlsConfig = NonNullable<HubConfig['tls']>;
export type ClusterConfig = NonNullable<HubConfig['cluster']>;
export type PolicyConfig = z.output<typeof policySchema>;

export function toEscalationPolicy(name: string, p: PolicyConfig): EscalationPolicy {
  return {
    name,
    mode: p.mode,
    levels: p.levels.map((l) => ({ name: l.name, targets: l.targets as EscalationPolicy['levels'][number]['targets'], channels: l.channels, delayMin: l.delay_min })),
    repeat: p.repeat,
    reAlertAfterAckMin: p.re_alert_after_ack_min,
    policeAfterSightingMin: p.police_after_sighting_min,
    seniorTargets: p.senior_targets as EscalationPolicy['seniorTargets'],
  };
}
