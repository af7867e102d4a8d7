/**
 * One hub process: the MQTT broker for the fobs, the durable store, the rules runtime, and the HTTP
 * side, wired together. `Hub.start` is what `lonewatch hub` and the tests call.
 */
import type { FastifyInstance } from 'fastify';
import { systemClock, type Clock } from './clock.js';
import { createLogger, type Logger } from './logger.js';
import type { HubConfig } from './config/config-schema.js';
import { toEscalationPolicy } from './config/config-schema.js';
import type { Store } from './store/store.js';
import { ChangeFeedReader } from './store/change-feed-reader.js';
import { StoreCommands, type CommandService } from './commands/store-commands.js';
import { ControlServer } from './commands/control-server.js';
import { openConfiguredStore } from './store/open-store.js';
import { MqttBroker } from './broker/mqtt-broker.js';
import { DeviceAuth } from './ingest/device-auth.js';
import { FobIngest } from './ingest/fob-ingest.js';
import { DeviceWatch } from './ingest/device-watch.js';
import { PositionRetention } from './ingest/position-retention.js';
import { alertPosition } from './notifiers/position-text.js';
import { ANY_ROLE } from './http/auth.js';
import { RulesRuntime } from './rules/rules-runtime.js';
import type { RuntimeOutputs } from './rules/effect-executor.js';
import { createHttpServer } from './http/http-server.js';
import { registerApi } from './http/api.js';
import { FIRST_ADMIN_COMMAND, FirstAdminSetup } from './http/first-admin.js';
import { companionAuthFor } from './http/companion-sessions.js';
import { registerCompanion } from './companion/companion-routes.js';
import { RelayGrants } from './companion/relay-grants.js';
import { RelayTokens, RELAY_TOKEN_TTL_MS } from './companion/relay-tokens.js';
import { contactFromConfig, seedWorkerFromConfig } from './admin/admin-service.js';
import { ALARM_KINDS, type AlarmKind } from '../shared/protocol-schemas.js';
import { alertTopic, commandTopic, encodeCommand } from '../shared/protocol-core.js';
import type { EscalationPolicy } from './rules/escalation-policy.js';
import { createDispatcher } from './notifiers/create-dispatcher.js';
import type { Dispatcher } from './notifiers/dispatcher.js';
import { StoreNoticeJournal } from './notifiers/notice-journal.js';
import type { TlsContext, ReloadResult } from './tls/tls-context.js';
import { listenersLine, MqttTransports, tlsClause, type CertificateStatus, type TransportListeners } from './tls/mqtt-transports.js';
import { isOpen } from './rules/escalation-engine.js';
import type { ReachProblem } from './notifiers/policy-reach.js';

// Start-up checks of the escalation policies' reach (issue 16), in their own module so that the
// HTTP side can use them without importing this file (issue 18: no import cycles).
export { configuredChannels, policiesInForce, reachProblems, reachProblemsWith, StartRefused } from './notifiers/policy-reach-config.js';
import { reachProblems, StartRefused } from './notifiers/policy-reach-config.js';
import { reachSummary } from './notifiers/reach-summary.js';
import type { HubServices } from './hub-services.js';
import { brokerSessions, type MqttSessions } from './mqtt-sessions.js';
import { recordPresence } from './ingest/presence.js';

export interface HubOptions {
  config: HubConfig;
  /** Tests and drills inject a clock; normal operation uses the system clock. */
  clock?: Clock;
  log?: Logger;
  store?: Store;
  /** Extra outputs (the notifiers) wired by the caller. */
  dispatch?: RuntimeOutputs['dispatch'];
  /** Called with the HTTP server before it listens, so the dashboard can add its routes. */
  registerHttp?: (http: FastifyInstance, hub: Hub) => Promise<void> | void;
  /** How long one step of `stop` may take before it is forced (or given up), in real milliseconds. */
  stopStepMs?: number;
  /** Refuse to start while a policy names a channel or contact that does not exist (`lonewatch hub --strict`). */
  strict?: boolean;
  // --- cluster roles (issue 19, hub/cluster/worker.ts): a worker is this hub without fob listeners.
  /** Where commands for fobs go instead of this hub's own broker (a worker: NATS lw.cmd.<deviceId>). */
  commandSink?: RuntimeOutputs['sendCommand'];
  /** false: no MQTT listener at all (TCP, TLS, WebSocket); fobs connect to the edges. Default true. */
  mqttListen?: boolean;
  /** The cluster's shared relay key: companion relay tokens verify at every edge. Default: a key of this process only. */
  relayKey?: Buffer;
  /** The edges' WebSocket URLs the companion is given to fail over between. Default: none (the page's own /mqtt). */
  companionHubs?: string[];
  /** The due-work loop's poll of the shared store (a cluster node: other processes schedule work too). Default: none. */
  dueWorkPollMs?: number;
  // --- end cluster roles
}

/** Default time limit of one step of Hub.stop. */
export const STOP_STEP_MS = 5000;

/** Where the hub listens, as /healthz and the start-up log say it: null for a listener that is off. */
export type HubListeners = TransportListeners;

export class Hub implements HubServices {
  /** The plain MQTT port; 0 when that listener is off (TLS configured without keep_plain_mqtt). */
  mqttPort = 0;
  /** The MQTTS port; 0 without [tls]. */
  mqttsPort = 0;
  httpPort = 0;
  /** The certificate in service and its reload; null without [tls]. */
  tls: TlsContext | null = null;
  /** The fob listeners and the HTTP port's TLS, built as an edge builds them. */
  private transports!: MqttTransports;
  /** Alert forwarding (e-mail, webhook, ARC); null when [notifiers] configures none. */
  dispatcher: Dispatcher | null = null;
  /** Time limit of one step of `stop` (real time: a ManualClock may never move again). */
  stopStepMs = STOP_STEP_MS;
  /** Device revocations and reassignments, the CLI's included (issue 17, item 9). */
  devices!: DeviceWatch;
  /** The store's change feed, tailed for the dashboards' live events (issue 18). */
  feed!: ChangeFeedReader;
  /** Devices, workers, visits and alarm actions, for the API's routes and the control socket (issue 18). */
  commands!: CommandService;
  /** The CLI's way in (`<data_dir>/hub.sock`); null when it could not be opened (said in the log). */
  control: ControlServer | null = null;
  /** The broker's live connections, as the HTTP side may see them (issue 18: no route reaches into aedes). */
  readonly sessions: MqttSessions;
  private closed = false;
  /** The first-run set-up link (issue 15 item 9): live only while no admin account exists. */
  readonly firstAdmin: FirstAdminSetup;

  private constructor(
    readonly config: HubConfig,
    readonly clock: Clock,
    readonly log: Logger,
    readonly store: Store,
    readonly runtime: RulesRuntime,
    readonly broker: MqttBroker,
    readonly ingest: FobIngest,
    readonly auth: DeviceAuth,
    readonly http: FastifyInstance,
  ) {
    this.firstAdmin = new FirstAdminSetup(store, clock);
    this.sessions = brokerSessions(broker);
  }

  static async start(opts: HubOptions): Promise<Hub> {
    // A start that fails (a missing secret, a port in use) leaves nothing open behind it: not the
    // store the hub opened (the SQLite file, or PostgreSQL with [store] postgres_url), nor a listener
    // or notifier link already started.
    const log = opts.log ?? createLogger({ level: opts.config.log.level, pretty: opts.config.log.pretty });
    const owned = opts.store ? null : await openConfiguredStore(opts.config, log);
    const undo: (() => Promise<unknown>)[] = [];
    try {
      return await Hub.open({ ...opts, log, store: opts.store ?? owned! }, undo);
    } catch (err) {
      for (const u of undo.reverse()) await u().catch(() => undefined);
      await owned?.close().catch(() => undefined);
      throw err;
    }
  }

  private static async open(opts: HubOptions & { store: Store }, undo: (() => Promise<unknown>)[]): Promise<Hub> {
    const config = opts.config;
    const clock = opts.clock ?? systemClock;
    const log = opts.log ?? createLogger({ level: config.log.level, pretty: config.log.pretty });
    const store = opts.store;
    // The certificate files are checked before anything else starts (issue 17): a missing,
    // unreadable or mismatched file stops the start-up with the key that names it.
    // The same transports an edge builds (hub/tls/mqtt-transports.ts).
    const tlsConfig = config.tls;
    const transports = MqttTransports.open(config, log, () => clock.now());
    const tls = transports.tls;

    // Organisation data from config is the starting point; the database is the truth after that.
    await store.transaction(async (tx) => {
      for (const c of config.contacts) await tx.upsertContact(contactFromConfig(c));
      for (const w of config.workers) await seedWorkerFromConfig(tx, w);
    });

    // Issue 16: a policy that names a channel or contact that does not exist is said at start-up.
    // One warning line (a default install has dozens of per-level problems); each at debug level,
    // and every one listed by `lonewatch hub --check` (reach-summary.ts).
    const problems = await reachProblems(config, store);
    const summary = reachSummary(problems);
    if (summary) log.warn({ problems: problems.length }, summary);
    // `policyLevel`, not `level`: pino's own `level` field would be overwritten by the ladder step.
    for (const p of problems) log.debug({ policy: p.policy, policyLevel: p.level, problem: p.kind }, p.message);
    if (opts.strict && problems.length > 0) throw new StartRefused(problems);

    const policies = {} as Record<AlarmKind, EscalationPolicy>;
    for (const kind of ALARM_KINDS) {
      const name = config.alarm_policies[kind]!;
      policies[kind] = toEscalationPolicy(name, config.policies[name]);
    }

    // The runtime, the ingest and the device watch send through the broker, and the broker hands
    // publishes to the ingest: the broker is built last and bound here once it exists. Nothing sends
    // before Hub.start has built it (no listener is open and the runtime has not started).
    const mqtt: { broker: MqttBroker | null } = { broker: null };
    const theBroker = (): MqttBroker => {
      if (!mqtt.broker) throw new Error('the MQTT broker is not built yet: nothing may be sent to a fob before Hub.start has built it');
      return mqtt.broker;
    };
    const sendCommand: RuntimeOutputs['sendCommand'] =
      opts.commandSink ??
      ((deviceId, command) => {
        theBroker().publish(commandTopic(deviceId), encodeCommand(command), 1);
      });
    const mqttListen = opts.mqttListen !== false;
    // Alert forwarding (issue 7): built before the runtime, whose recordDelivery it calls later.
    const dispatcher: Dispatcher | null = opts.dispatch
      ? null
      : createDispatcher({
          notifiers: config.notifiers,
          hubName: config.hub.name,
          clock,
          log: log.child({ component: 'notifiers' }),
          record: (alarmId, entry): Promise<void> => runtime.recordDelivery(alarmId, entry),
          undeliverable: async (alarmId, level, recipientId): Promise<void> => {
            await runtime.alarmAction(alarmId, { type: 'undeliverable', level, recipientId });
          },
          isOpen: async (alarmId): Promise<boolean> => {
            const a = await store.read((tx) => tx.getAlarm(alarmId));
            return a !== null && isOpen(a);
          },
          // The dashboard shows a path that is down or refusing as a standing alarm, with sound.
          // Through the change feed (issue 18), so every process serving dashboards hears of it.
          onPathChange: (channel, state): void => {
            store
              .transaction((tx) => tx.appendChange({ at: clock.now(), topic: 'path', alarmId: null, detail: { channel, state: state.state } }))
              .catch((err) => log.error({ err, channel }, 'could not record the forwarding path state on the change feed; dashboards see it at their next refresh'));
          },
          journal: new StoreNoticeJournal(store),
          // Every step of a notice is a notice:<id> row of due work, fired by the runtime's one loop.
          wake: (at): void => runtime.loop.wake(at),
          publicUrl: config.hub.public_url,
        });
    if (dispatcher) undo.push(() => dispatcher.close());
    const dispatch: RuntimeOutputs['dispatch'] = opts.dispatch ?? (dispatcher ? (req) => dispatcher.dispatch(req) : undefined);
    const runtime = new RulesRuntime({
      store,
      clock,
      ...(opts.dueWorkPollMs !== undefined ? { dueWorkPollMs: opts.dueWorkPollMs } : {}),
      log: log.child({ component: 'rules' }),
      drill: config.hub.drill,
      publicUrl: config.hub.public_url.replace(/\/$/, ''),
      checkin: {
        graceMin: config.rules.checkin_grace_min,
        endOfShiftAfterMin: config.rules.end_of_shift_after_min,
        startGraceMin: config.rules.visit_start_grace_min === false ? null : config.rules.visit_start_grace_min,
        overdueRecheckMin: config.rules.overdue_recheck_min,
      },
      health: { lowBatteryPercent: config.rules.low_battery_percent, batteryHysteresis: 10, silentAfterMin: config.rules.device_silent_after_min },
      policies,
      ...(opts.dispatch ? {} : { forwarding: dispatcher?.channels ?? [] }),
      // The loop hands each notice:<id> row to the dispatcher, which takes the notice's next step.
      ...(dispatcher ? { noticeDue: (key: string): Promise<boolean> => dispatcher.fireDue(key) } : {}),
      outputs: {
        sendCommand,
        publishAlert: async (alert) => {
          theBroker().publish(alertTopic(alert.alarmId), JSON.stringify(alert), 1);
          await dispatcher?.alarmChanged(alert);
        },
        ...(dispatch ? { dispatch } : {}),
      },
    });
    const ingest = new FobIngest({
      store,
      runtime,
      clock,
      log: log.child({ component: 'ingest' }),
      heartbeatIntervalS: config.rules.heartbeat_interval_s,
      gnssVisitPeriodS: config.rules.gnss_visit_period_s,
      heartbeatFlushMs: config.mqtt.heartbeat_flush_ms,
      heartbeatBufferMax: config.mqtt.heartbeat_buffer_max,
      sendCommand,
      // Issue 20: a newer fix during an open alarm may be worth a location follow-up to the ARC.
      onAlarmPosition: async (p) => {
        await dispatcher?.positionUpdated(p.alarmId, alertPosition(p)).catch((err: unknown) => log.error({ err, alarmId: p.alarmId, deviceId: p.deviceId }, 'could not make a location follow-up'));
      },
    });
    const services = config.mqtt.services.map((svc) => {
      const password = process.env[svc.password_env];
      if (!password) throw new Error(`mqtt.services: the environment variable ${svc.password_env} for ${svc.username} is not set`);
      return { username: svc.username, password };
    });
    // The companion's relay grants, given to the device authentication at construction (issue 18).
    const relays = new RelayGrants(clock, new RelayTokens(clock, RELAY_TOKEN_TTL_MS, opts.relayKey));
    const auth = new DeviceAuth(store, services, relays);
    const now = () => clock.now();
    // The change feed's reader. Its poll (for commits by other processes) runs on real time like the
    // device watch's: it is I/O pacing, not a rule, and a ManualClock moved through hours of a drill
    // must not stop at every poll. The retention is measured on the hub's clock, which writes `at`.
    const feed = new ChangeFeedReader({
      store,
      clock: systemClock,
      now: () => clock.now(),
      log: log.child({ component: 'feed' }),
      pollMs: config.feed.poll_ms,
      retentionMs: config.feed.retention_days * 24 * 3600_000,
      maxRows: config.feed.max_rows,
    });
    await feed.start();
    undo.push(() => feed.stop());
    const devices = new DeviceWatch({
      store,
      log: log.child({ component: 'devices' }),
      intervalMs: config.mqtt.device_check_ms,
      // Before the broker exists no fob is connected to drop; it refuses a revoked fob's CONNECT (isRevoked).
      onRevoked: (deviceId) => void mqtt.broker?.disconnectDevice(deviceId, 'the device has been revoked'),
      onReassigned: (deviceId) => ingest.forgetDevice(deviceId),
    });
    await devices.start();
    undo.push(async () => devices.stop());
    // A revocation or reassignment committed by another process on this store (another hub node, or
    // the CLI writing the database while this hub's control socket is not open) reaches the device
    // watch from the change feed; this hub's own are told to it directly by the command service.
    feed.subscribe((c) => {
      if (c.topic !== 'device' || (c.detail.change !== 'revoked' && c.detail.change !== 'assigned')) return;
      const deviceId = String(c.detail.deviceId);
      devices.deviceChanged(deviceId).catch((err: Error) => log.error({ err, deviceId }, 'could not act on a device change from the change feed; the device watch finds it at its next check'));
    });
    const broker = await MqttBroker.create(
      {
        authenticate: transports.authenticate((clientId, username, password) => auth.authenticate(clientId, username, password)),
        onDevicePublish: (deviceId, leaf, payload) => ingest.onDevicePublish(deviceId, leaf, payload),
        onConnected: (deviceId) => {
          log.info({ deviceId }, 'fob connected');
          store.transaction((tx) => recordPresence(tx, deviceId, true, now())).catch((err) => log.error({ err, deviceId }, 'could not mark device online'));
        },
        onDisconnected: (deviceId) => {
          log.info({ deviceId }, 'fob disconnected');
          store.transaction((tx) => recordPresence(tx, deviceId, false, now())).catch((err) => log.error({ err, deviceId }, 'could not mark device offline'));
        },
        isRevoked: (deviceId) => devices.isRevoked(deviceId),
      },
      log.child({ component: 'mqtt' }),
      {
        clock,
        limits: {
          connectMaxBytes: config.mqtt.connect_max_bytes,
          packetMaxBytes: config.mqtt.packet_max_bytes,
          connectDeadlineMs: config.mqtt.connect_deadline_ms,
          unauthenticatedPerAddress: config.mqtt.unauthenticated_per_address,
          unauthenticatedMax: config.mqtt.unauthenticated_max,
        },
      },
    );
    mqtt.broker = broker;
    undo.push(() => broker.close(), () => ingest.close(), () => runtime.stop());

    const https = transports.httpsOptions();
    const http = createHttpServer(log, { trustProxy: config.http.trust_proxy, ...(https ? { https } : {}) });
    undo.push(() => http.close());
    const hub = new Hub(config, clock, log, store, runtime, broker, ingest, auth, http);
    hub.dispatcher = dispatcher;
    hub.tls = tls;
    hub.transports = transports;
    hub.devices = devices;
    hub.feed = feed;
    hub.commands = new StoreCommands({
      store,
      feed,
      now,
      visitRules: { onBreach: config.rules.visit_policy_breach, trainingValidYears: config.rules.training_valid_years },
      hooks: {
        deviceChanged: (deviceId) => devices.deviceChanged(deviceId),
        itineraryChanged: async (workerId) => {
          await runtime.workerAction(workerId, { type: 'itinerary_changed' });
        },
        alarmAction: (alarmId, input) => runtime.alarmAction(alarmId, input),
        addNote: (alarmId, by, type, detail) => runtime.addNote(alarmId, by, type, detail),
      },
    });
    if (opts.stopStepMs !== undefined) hub.stopStepMs = opts.stopStepMs;
    transports.attachHttps(http.server);
    http.get('/healthz', async () => ({ ...hub.health(), listeners: hub.listeners(), tls: hub.certificateStatus() }));
    // Counters, memory and connection numbers help an attacker time an attack: signed-in staff or an
    // API token only (issue 17, item 6); a Prometheus scraper uses an API token.
    http.get('/metrics', { preHandler: ANY_ROLE }, async () => hub.metrics());
    if (mqttListen) broker.attachWebSocket(http.server);
    // The API and the duty officer's dashboard (issue 6); extra routes (the companion) come after it.
    await registerApi(http, hub);
    // The worker's companion PWA and its API (issue 10), signing in with the dashboard's worker accounts.
    await registerCompanion(http, hub, { auth: companionAuthFor(http, hub), relays, hubs: opts.companionHubs ?? [] });
    if (opts.registerHttp) await opts.registerHttp(http, hub);

    // Before the loop starts and anything can dispatch: the notifiers learn their last reference (the
    // ARC's sequence number) and the notices a stop left unfinished are counted. Nothing is re-run:
    // each has its notice:<id> due work, which the loop fires at its time once it starts.
    const notices = (await dispatcher?.resume()) ?? 0;
    // With TLS configured the plain listener is off unless kept on purpose: a fob's secret and its
    // alarms would otherwise still cross the network in clear (issue 17).
    if (mqttListen) {
      await transports.listen(broker);
      hub.mqttPort = transports.mqttPort;
      hub.mqttsPort = transports.mqttsPort;
    }
    await http.listen({ port: config.http.port, host: config.http.host });
    const addr = http.server.address();
    hub.httpPort = typeof addr === 'object' && addr ? addr.port : config.http.port;

    // Periodic pruning is due work like any step (hub/rules/periodic-work.ts), armed by the start.
    runtime.addPeriodic(new PositionRetention({ store, clock, log: log.child({ component: 'positions' }), retentionDays: config.positions.retention_days }).job());
    if (dispatcher) runtime.addPeriodic(dispatcher.pruneJob());
    const resumed = await runtime.start();
    // Opened once the hub can act on a command (the runtime started): from now on the CLI sends its
    // commands here instead of writing the database behind the hub's back.
    hub.control = await ControlServer.open(config.hub.data_dir, hub.commands, log.child({ component: 'control' }));
    const control = hub.control;
    if (control) undo.push(() => control.close());
    const listeners = hub.listeners();
    const cert = hub.certificateStatus();
    log.info(
      { listeners, ...(cert ? { certificate: cert } : {}), ...resumed, notices },
      `hub listening: ${listenersLine(listeners)}${tlsClause(cert)}`,
    );
    tls?.reportValidity('start-up');
    if (tlsConfig?.https && !config.hub.public_url.startsWith('https:')) {
      log.warn({ publicUrl: config.hub.public_url }, 'the hub serves HTTPS but hub.public_url is not https: links in alerts point at http, and session cookies are not marked Secure; set hub.public_url to the https address');
    }
    // First run: nobody can sign in until an admin exists. Say how, where the person starting it looks.
    const setupToken = await hub.firstAdmin.open();
    if (setupToken) {
      const setupUrl = config.hub.public_url.replace(/\/$/, '') + FirstAdminSetup.path(setupToken);
      log.warn({ setupUrl }, `no dashboard admin yet: open ${setupUrl} once to create the first admin (the link works once, until the hub restarts), or run: ${FIRST_ADMIN_COMMAND}`);
    }
    return hub;
  }

  listeners(): HubListeners {
    return this.transports.listeners(this.httpPort);
  }

  /** The certificate in service, for /healthz; null without [tls]. */
  certificateStatus(): CertificateStatus | null {
    return this.transports.certificateStatus();
  }

  /**
   * Reads the certificate files again and, if they pass the checks, serves the new certificate to
   * new connections; open ones stay (SIGHUP in `lonewatch hub`, hub/tls/tls-context.ts).
   */
  reloadTls(): ReloadResult | null {
    if (!this.tls) {
      this.log.warn('TLS reload asked for, but [tls] is not configured: nothing to reload');
      return null;
    }
    return this.tls.reload();
  }

  /**
   * What `/healthz` answers. The hub serves while it catches up on steps that fell due while it was
   * down (issue 17 item 4), so it is up (200, ok) and says how much is left.
   */
  health(): { ok: true; status?: string; overdueSteps?: number } {
    const left = this.runtime.overdueSteps;
    if (left === 0) return { ok: true };
    return { ok: true, status: `catching up: ${left} overdue steps left`, overdueSteps: left };
  }

  /** A device was revoked or reassigned through the hub (dashboard): act on it at once. */
  async deviceChanged(deviceId: string): Promise<void> {
    await this.devices.deviceChanged(deviceId);
  }

  /** What the policies in force cannot reach now (contacts may have changed since the start). */
  reachProblems(): Promise<ReachProblem[]> {
    return reachProblems(this.config, this.store);
  }

  metrics(): Record<string, unknown> {
    const mem = process.memoryUsage();
    return {
      connectedFobs: this.broker.connectedClients,
      ingest: this.ingest.counters,
      broker: this.broker.counters,
      dueWorkProcessed: this.runtime.loop.processedCount,
      overdueSteps: this.runtime.overdueSteps,
      notifiers: this.dispatcher?.metrics() ?? null,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
    };
  }

  /**
   * Stops everything, in order. A step that waits on a remote peer (a client that keeps a request or a
   * connection open) or on work that does not finish is bounded: after stopStepMs it is forced where
   * that is possible (every connection dropped) or left behind, with a warning naming it, so a stop
   * never hangs.
   */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.devices.stop();
    const control = this.control;
    if (control) await this.stopStep('control socket', () => control.close());
    await this.stopStep('mqtt broker', () => this.broker.close(), () => this.broker.dropConnections());
    await this.stopStep('heartbeat ingest', () => this.ingest.close());
    await this.stopStep('rules runtime', () => this.runtime.stop());
    const dispatcher = this.dispatcher;
    if (dispatcher) await this.stopStep('notifiers', () => dispatcher.close());
    await this.stopStep('http server', () => this.http.close(), () => this.http.server.closeAllConnections());
    await this.stopStep('change feed', () => this.feed.stop());
    await this.stopStep('store', () => this.store.close());
    this.log.info('hub stopped');
  }

  /** One step of stop: waits up to stopStepMs, then forces it (and waits as long again) or moves on. */
  private async stopStep(step: string, run: () => Promise<unknown>, force?: () => void): Promise<void> {
    const done = run().then(
      () => true,
      (err: unknown) => {
        this.log.error({ err, step }, `stopping the hub: ${step} failed`);
        return true;
      },
    );
    const within = (ms: number): Promise<boolean> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), ms);
        timer.unref();
      });
      return Promise.race([done, late]).finally(() => clearTimeout(timer));
    };
    if (await within(this.stopStepMs)) return;
    if (!force) {
      this.log.warn({ step, waitedMs: this.stopStepMs }, `stopping the hub: ${step} did not finish within ${this.stopStepMs} ms; carrying on without it`);
      return;
    }
    this.log.warn({ step, waitedMs: this.stopStepMs }, `stopping the hub: ${step} did not finish within ${this.stopStepMs} ms; dropping its connections`);
    force();
    if (!(await within(this.stopStepMs))) this.log.warn({ step }, `stopping the hub: ${step} still did not finish after its connections were dropped; carrying on without it`);
  }
}
