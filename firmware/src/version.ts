/** Firmware version, reported in the hello event and read back by the flashing tool. */
export const FIRMWARE_VERSION = '0.1.0';
