/**
 * Where each board's console is, from Espruino 2v29's board files: a wrong port is the commonest
 * reason for silence.
 *   - boards/PUCKJS.py: default_console EV_SERIAL1 on D28 (TX) / D29 (RX) at 9600, and "If pulled
 *     up to 1 on startup, D28 and D29 become Serial1": the adapter must be connected at power-up,
 *     else the console is on Bluetooth.
 *   - boards/RAK5010.py: default_console EV_BLUETOOTH, the UART console pins (IO3 D34 / IO4 D33)
 *     commented out, and "USB only works if connected at startup": over a cable the console is the
 *     board's own USB socket (a CDC-ACM port, /dev/ttyACM<n> on Linux), connected before power-on.
 */
export const CONSOLE_PORT: Record<'puck' | 'rak5010', string> = {
  puck: 'a Puck.js has its console on Serial1 (D28 TX, D29 RX, 9600 baud) only when the USB-serial adapter is connected before the battery goes in; otherwise it is on Bluetooth',
  rak5010: "a RAK5010 has its console on its own USB socket (usually /dev/ttyACM0), only when USB is connected before it is powered; otherwise it is on Bluetooth: its UART pins (IO3/IO4) carry no console",
};
