import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';

/** One server-sent event as a client sees it (comments are kept, for heartbeats). */
export interface SseEvent {
  type: string;
  data: string;
  id?: string;
  retry?: number;
  comment?: string;
}

/** An open `text/event-stream` response, read incrementally. */
export interface SseStream {
  status: number;
  headers: IncomingHttpHeaders;
  /** Every event and comment received so far. */
  events: SseEvent[];
  /** The raw text received so far. */
  text(): string;
  /** Resolves with the next event of `type` (already received or still to come); rejects after `timeoutMs`. */
  next(type: string, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves when the server ended the response. */
  ended: Promise<void>;
  /** Drops the connection (the client goes away). */
  close(): void;
}

/**
 * Opens `url` and resolves once the status and headers are in. A non-2xx answer resolves too,
 * with its body in `text()` once `ended` settles.
 */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      let raw = '';
      let buffer = '';
      const events: SseEvent[] = [];
      const waiters: Array<{ type: string; resolve: (e: SseEvent) => void }> = [];
      let endedResolve!: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      const dispatch = (block: string) => {
        const event: SseEvent = { type: 'message', data: '' };
        const data: string[] = [];
        const comments: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments.push(line.slice(1).trim());
          else {
            const i = line.indexOf(':');
            const field = i < 0 ? line : line.slice(0, i);
            const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
            if (field === 'event') event.type = value;
            else if (field === 'data') data.push(value);
            else if (field === 'id') event.id = value;
            else if (field === 'retry') event.retry = Number(value);
          }
        }
        event.data = data.join('\n');
        if (comments.length > 0 && data.length === 0 && event.type === 'message') {
          events.push({ type: 'comment', data: '', comment: comments.join('\n') });
        } else if (data.length > 0 || event.type !== 'message') {
          events.push(event);
        }
        for (const waiter of [...waiters]) {
          const found = events.find((e) => e.type === waiter.type);
          if (found) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(found);
          }
        }
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk.replace(/\r\n?/g, '\n');
        let at: number;
        while ((at = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, at);
          buffer = buffer.slice(at + 2);
          if (block.trim() !== '') dispatch(block);
        }
      });
      res.on('end', () => endedResolve());
      res.on('close', () => endedResolve());
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        events,
        text: () => raw,
        ended,
        next(type, timeoutMs = 5000) {
          const found = events.find((e) => e.type === type);
          if (found) return Promise.resolve(found);
          return new Promise((resolveEvent, rejectEvent) => {
            const waiter = { type, resolve: (e: SseEvent) => (clearTimeout(timer), resolveEvent(e)) };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(waiter), 1);
              rejectEvent(new Error(`no '${type}' event within ${timeoutMs} ms; got ${JSON.stringify(events)}`));
            }, timeoutMs);
            waiters.push(waiter);
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(error);
    });
    req.end();
  });
}
