/**
 * What the network and the modem say about an SMS, in words a duty officer can act on. Pure.
 */

/**
 * `+CMS ERROR: <err>` (3GPP TS 27.005 §3.2.5): 0-127 are the network's RP-cause (TS 24.011 §E.2),
 * 128-255 TP-FCS (TS 23.040 §9.2.3.22), 300-500 the modem's own. `retryable` false: trying the same
 * number again cannot work (a number that does not exist, a barred SIM, no SIM).
 */
const CMS: Record<number, { text: string; retryable: boolean }> = {
  1: { text: 'the number is not allocated (unassigned number)', retryable: false },
  8: { text: 'the operator barred this SIM from sending', retryable: false },
  10: { text: 'sending is barred on this SIM (call barred)', retryable: false },
  21: { text: 'the network rejected the message', retryable: true },
  27: { text: 'the destination is out of service', retryable: true },
  28: { text: 'the number is not valid (unidentified subscriber)', retryable: false },
  29: { text: 'the network refused the request (facility rejected)', retryable: false },
  30: { text: 'the network does not know this SIM (unknown subscriber)', retryable: false },
  38: { text: 'the network is out of order', retryable: true },
  41: { text: 'temporary network failure', retryable: true },
  42: { text: 'the network is congested', retryable: true },
  47: { text: 'network resources unavailable', retryable: true },
  50: { text: 'SMS is not part of this SIM\'s subscription', retryable: false },
  300: { text: 'the modem failed (ME failure)', retryable: true },
  302: { text: 'the modem does not allow this now (operation not allowed)', retryable: true },
  304: { text: 'the modem rejected a parameter (invalid PDU mode parameter)', retryable: false },
  305: { text: 'the modem rejected the text or a parameter (invalid text mode parameter)', retryable: false },
  310: { text: 'no SIM card in the hub\'s modem', retryable: false },
  311: { text: 'the hub\'s modem SIM needs its PIN', retryable: false },
  313: { text: 'the hub\'s modem SIM failed', retryable: false },
  330: { text: 'the SMS centre address is not set on the hub\'s modem SIM', retryable: false },
  331: { text: 'the hub\'s modem has no network service', retryable: true },
  332: { text: 'the network did not answer in time', retryable: true },
  500: { text: 'the modem reported an unknown error', retryable: true },
};

export function cmsReason(code: number): { reason: string; retryable: boolean } {
  const known = CMS[code];
  if (known) return { reason: `+CMS ERROR: ${code}: ${known.text}`, retryable: known.retryable };
  return { reason: `+CMS ERROR: ${code}`, retryable: true };
}

export type ReportOutcome = { final: true; delivered: boolean; text: string } | { final: false; text: string };

/**
 * TP-Status of an SMS-STATUS-REPORT (3GPP TS 23.040 §9.2.3.15): 0x00-0x1F the transaction is
 * complete (0 received by the phone; 1 forwarded, the SC cannot confirm; 2 replaced); 0x20-0x3F a
 * temporary error, the SC is still trying; 0x40-0x5F a permanent error, 0x60-0x7F a temporary error
 * the SC has stopped trying: both mean the message will not arrive.
 */
export function reportStatus(st: number): ReportOutcome {
  if (st === 0) return { final: true, delivered: true, text: 'the phone received it (status report 0)' };
  if (st === 1) return { final: false, text: 'forwarded to the phone; the SMS centre cannot confirm it arrived (status 1)' };
  if (st === 2) return { final: false, text: 'replaced by the SMS centre (status 2)' };
  if (st < 0x20) return { final: false, text: `completed with status ${st}` };
  if (st < 0x40) {
    const why: Record<number, string> = { 0x20: 'congestion', 0x21: 'the phone is busy', 0x22: 'no response from the phone', 0x23: 'service rejected', 0x25: 'error in the phone' };
    return { final: false, text: `not delivered yet, the SMS centre is still trying: ${why[st] ?? `status ${st}`}` };
  }
  const perm: Record<number, string> = {
    0x40: 'remote procedure error',
    0x41: 'incompatible destination',
    0x42: 'connection rejected by the phone',
    0x43: 'not obtainable',
    0x45: 'no interworking available',
    0x46: 'it expired before the phone could be reached (validity period)',
    0x47: 'deleted by the sender',
    0x48: 'deleted by the SMS centre',
    0x49: 'the message does not exist',
    0x60: 'congestion (the SMS centre stopped trying)',
    0x61: 'the phone was busy (the SMS centre stopped trying)',
    0x62: 'no response from the phone (the SMS centre stopped trying)',
    0x63: 'service rejected (the SMS centre stopped trying)',
    0x65: 'error in the phone (the SMS centre stopped trying)',
  };
  return { final: true, delivered: false, text: `NOT delivered: ${perm[st] ?? `status ${st}`}` };
}

/** `+44 7700 900123` -> `+447700900123`; null when it is not a phone number. */
export function dialable(phone: string): string | null {
  const n = phone.replace(/[\s().-]/g, '');
  return /^\+?[0-9]{3,20}$/.test(n) ? n : null;
}
