// The device error type, apart from device.ts so that the dispatcher can raise it without importing device.ts.

/** The GPU device errors (validation, out-of-memory, device lost) surface as this. */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeviceError';
  }
}
