/**
 * The fob-facing transports of one process, as `[tls]` sets them (issue 17, docs/hub.md "Transport
 * security"): plain MQTT, MQTT over TLS with the client-certificate check, and whether the HTTP
 * port (the WebSocket /mqtt) is HTTPS. The single hub (hub/hub.ts) and a cluster edge
 * (hub/cluster/edge.ts, issue 19) both build theirs here, so an edge terminates TLS with the same
 * certificate checks, reload, client-certificate rule and plain-listener rule as the hub.
 */
import type { Server as HttpServer } from 'node:http';
import type { HubConfig } from '../config/config-schema.js';
import type { Logger } from '../logger.js';
import type { BrokerHooks, MqttBroker } from '../broker/mqtt-broker.js';
import { createMqttsServer, secureOptions, withClientCertificates, type MqttsServer } from '../broker/tls-listener.js';
import { httpsOptions, httpsReloadTarget } from '../http/https.js';
import { loadTlsMaterial, daysLeft } from './tls-material.js';
import { TlsContext } from './tls-context.js';
import type { ClientCertMode } from './client-cert.js';

/** Where the transports listen, as /healthz and the start-up log say it: null for a listener that is off. */
export interface TransportListeners {
  mqtt: string | null;
  mqtts: string | null;
  http: string | null;
  https: string | null;
  ws: string | null;
  wss: string | null;
}

export interface CertificateStatus {
  subject: string;
  subjectAltName: string | null;
  validTo: string;
  daysLeft: number;
  fingerprint256: string;
  clientCerts: string;
}

/** "MQTT mqtt://..., WS ws://...": the listeners that are on, for a node's start-up line (hub and edge). */
export function listenersLine(listeners: TransportListeners): string {
  return Object.entries(listeners)
    .filter(([, url]) => url)
    .map(([name, url]) => `${name.toUpperCase()} ${url}`)
    .join(', ');
}

/** The start-up line's TLS clause: the certificate served, or that without [tls] passwords and alarms go unencrypted. */
export function tlsClause(cert: CertificateStatus | null): string {
  return cert ? `; TLS certificate ${cert.subject}, valid to ${cert.validTo}` : '; no TLS ([tls] not configured): MQTT passwords and alarms cross the network unencrypted';
}

export class MqttTransports {
  /** The plain MQTT port; 0 when that listener is off (TLS configured without keep_plain_mqtt). */
  mqttPort = 0;
  /** The MQTTS port; 0 without [tls]. */
  mqttsPort = 0;
  private mqtts: MqttsServer | null = null;

  private constructor(
    private readonly config: HubConfig,
    /** The certificate in service and its reload; null without [tls]. */
    readonly tls: TlsContext | null,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * Reads and checks the certificate files first (issue 17): a missing, unreadable or mismatched file
   * throws TlsMaterialError naming the key, before anything listens.
   */
  static open(config: HubConfig, log: Logger, now: () => number): MqttTransports {
    const t = config.tls;
    const tls = t ? new TlsContext(t, loadTlsMaterial(t), log.child({ component: 'tls' }), now) : null;
    return new MqttTransports(config, tls, log, now);
  }

  get clientCerts(): ClientCertMode {
    return this.config.tls?.client_certs ?? 'off';
  }

  /** True when the HTTP port (and so MQTT over WebSocket) is HTTPS/wss. */
  get httpsOn(): boolean {
    return !!this.tls && !!this.config.tls?.https;
  }

  /** The broker's authenticate hook, held to `tls.client_certs` for connections over MQTTS. */
  authenticate(inner: BrokerHooks['authenticate']): BrokerHooks['authenticate'] {
    return withClientCertificates(inner, this.clientCerts, () => this.mqtts);
  }

  /** The options for createHttpServer's `https`; undefined when the HTTP port stays plain. */
  httpsOptions(): ReturnType<typeof httpsOptions> | undefined {
    return this.tls && this.httpsOn ? httpsOptions(this.tls.material) : undefined;
  }

  /** A reload (SIGHUP) gives the HTTPS server the new certificate too. */
  attachHttps(server: HttpServer): void {
    if (this.tls && this.httpsOn) this.tls.addTarget(httpsReloadTarget(server));
  }

  /**
   * Opens the fob listeners: plain MQTT unless TLS is configured without keep_plain_mqtt (a fob's
   * secret and its alarms would otherwise still cross the network in clear, issue 17), and MQTTS
   * with [tls]. Ports: `mqttPort` overrides [mqtt] port, `mqttsPort` [tls] mqtts_port (0: any free).
   */
  async listen(broker: MqttBroker, ports: { mqttPort?: number; mqttsPort?: number } = {}): Promise<void> {
    const { config, tls } = this;
    const host = config.mqtt.host;
    if (!config.tls || config.tls.keep_plain_mqtt) this.mqttPort = await broker.listenTcp(ports.mqttPort ?? config.mqtt.port, host);
    if (tls && config.tls) {
      const mode = this.clientCerts;
      const server = createMqttsServer(tls.material, mode, this.log.child({ component: 'mqtts' }));
      this.mqtts = server;
      tls.addTarget({ name: 'MQTTS', apply: (m) => server.server.setSecureContext(secureOptions(m, mode)) });
      this.mqttsPort = await broker.listenTls(server.server, ports.mqttsPort ?? config.tls.mqtts_port, host);
    }
  }

  /** Every listener's URL; `webListen` false: the process has no WebSocket on its HTTP port. */
  listeners(httpPort: number, webListen = true): TransportListeners {
    const { mqtt, http } = this.config;
    const web = `${http.host}:${httpPort}`;
    return {
      mqtt: this.mqttPort ? `mqtt://${mqtt.host}:${this.mqttPort}` : null,
      mqtts: this.mqttsPort ? `mqtts://${mqtt.host}:${this.mqttsPort}` : null,
      http: this.httpsOn ? null : `http://${web}`,
      https: this.httpsOn ? `https://${web}` : null,
      ws: this.httpsOn || !webListen ? null : `ws://${web}/mqtt`,
      wss: this.httpsOn && webListen ? `wss://${web}/mqtt` : null,
    };
  }

  /** The certificate in service, for /healthz; null without [tls]. */
  certificateStatus(): CertificateStatus | null {
    const c = this.tls?.certificate;
    if (!c) return null;
    return { subject: c.subject, subjectAltName: c.subjectAltName, validTo: c.validTo, daysLeft: daysLeft(c, this.now()), fingerprint256: c.fingerprint256, clientCerts: this.clientCerts };
  }
}
