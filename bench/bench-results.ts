/**
 * The shape of one benchmark run, as bench-command.ts writes it to bench/results/*.json and report.ts
 * reads it back. A module of its own so the command and the report both depend on it rather than on
 * each other (issue 18: no import cycles).
 */
import type { IngestResult } from './ingest-bench.js';
import type { LatencyResult } from './latency-bench.js';
import type { RulesResult } from './rules-bench.js';
import type { CatchUpResult } from './catch-up-bench.js';
import type { FirmwareResult } from './firmware-bench.js';

export interface BenchResults {
  date: string;
  quick: boolean;
  machine: { cpus: number; cpuModel: string; memoryGb: number; node: string };
  ingest: IngestResult[];
  latency: LatencyResult | null;
  fleet: LatencyResult[];
  rules: RulesResult | null;
  /** Absent in results written before issue 17. */
  catchUp?: CatchUpResult | null;
  firmware: FirmwareResult[];
  notes: string[];
}
