/**
 * How many events the outbox keeps (core/outbox.ts). Dependency-free, so the build's measurement
 * (Node) can import it too.
 *
 * Sized for a worker out of signal for an afternoon (5 hours), from the policies: on a higher-risk
 * visit a check-in every half hour (R10: 2 an hour), each visit's start and end (about one visit an
 * hour: 2), the check-in when a visit ends (R10: 1), an extension when a visit runs over (R11: up to
 * 1): 6 an hour, 30 in 5 hours; then the end of shift (R12) and room for an alarm: 32. Heartbeats are
 * never queued. Each waiting event costs ~4 variables of RAM (its file is in flash).
 */
export const OUTBOX_MAX = 32;
