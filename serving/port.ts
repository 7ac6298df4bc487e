import net from 'node:net';
import { ChurnError } from '../core/errors.ts';

/** A failed listen as a catalogue error when the port is taken (EADDRINUSE); else the error itself. */
export function listenError(err: unknown, port: number, host: string): unknown {
  if ((err as { code?: string }).code !== 'EADDRINUSE') return err;
  return new ChurnError('CHURN_ERR_PORT_IN_USE', `port ${port} on ${host} is in use; set PORT or pass --port`, { cause: err });
}

/**
 * Fails fast with CHURN_ERR_PORT_IN_USE when HOST:PORT is taken, before a server builds anything
 * (`churn start` checks before its long preparation). Port 0 (any free port) always passes. A port
 * taken between this check and the listen is still reported the same way by `startServer`.
 */
export async function assertPortFree(port: number, host: string): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ port, host, exclusive: true }, () => resolve());
  }).catch((err: unknown) => {
    throw listenError(err, port, host);
  });
  await new Promise<void>((resolve) => probe.close(() => resolve()));
}
