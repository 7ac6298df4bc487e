/**
 * A COPY FROM STDIN stream (text format) on its own connection, fed with rows in large string chunks
 * and honouring backpressure: `flushIfLarge` waits for `drain` when the socket buffer is full.
 */
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import { from as copyFrom, type CopyStreamQuery } from 'pg-copy-streams';
import { ident, type Pool, type PoolClient } from '../../core/db.ts';

const CHUNK_CHARS = 1 << 20;

export class CopySink {
  rows = 0;
  private chunk = '';
  private readonly done: Promise<void>;
  private failure: Error | undefined;
  private released = false;

  private constructor(private readonly client: PoolClient, private readonly stream: CopyStreamQuery) {
    this.done = finished(stream).catch((err: Error) => {
      this.failure ??= err;
    });
  }

  /** Opens `COPY schema.table (columns) FROM STDIN` on a connection of its own. */
  static async open(pool: Pool, schema: string, table: string, columns: readonly string[]): Promise<CopySink> {
    const client = await pool.connect();
    try {
      const stream = client.query(copyFrom(`COPY ${ident(schema)}.${ident(table)} (${columns.map(ident).join(', ')}) FROM STDIN`));
      return new CopySink(client, stream);
    } catch (err) {
      client.release(err as Error);
      throw err;
    }
  }

  add(row: string): void {
    this.chunk += row;
    this.rows++;
  }

  /** Sends the buffered rows once they reach about a megabyte. */
  async flushIfLarge(): Promise<void> {
    if (this.chunk.length >= CHUNK_CHARS) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.chunk) return;
    const data = this.chunk;
    this.chunk = '';
    if (!this.stream.write(data)) await once(this.stream, 'drain');
  }

  /** Ends the COPY and waits for the server to commit it; returns the rows sent. */
  async finish(): Promise<number> {
    try {
      await this.flush();
      this.stream.end();
      await this.done;
      if (this.failure) throw this.failure;
      this.release();
      return this.rows;
    } catch (err) {
      this.release(err as Error);
      throw err;
    }
  }

  private release(err?: Error): void {
    if (this.released) return;
    this.released = true;
    this.client.release(err);
  }

  /** Abandons the COPY (the server rolls it back) and drops the connection. */
  abort(reason: Error): void {
    if (this.released) return;
    this.stream.destroy(reason);
    this.release(reason);
  }
}
