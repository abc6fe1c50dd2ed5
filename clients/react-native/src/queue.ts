/**
 * The bounded event queue, persisted in pages through a StorageAdapter.
 *
 * Layout under `prefix`: `prefix/meta` = {"v":1,"pages":[ids...],"next":n} and `prefix/page/<id>` = JSON array of
 * events, oldest first. Pages keep each stored value small (AsyncStorage on Android limits an entry's size) and
 * make an append rewrite one page, not the whole queue. Writes are grouped: changes made while a write is under
 * way go out together in the next one. The order of a write — pages, then meta, then removals — means a crash
 * never loses a queued event; at worst it leaves events that were already acknowledged, which are re-sent and
 * deduplicated by the server through their event_id.
 */

import type { StorageAdapter } from "./storage";
import type { OtaEvent } from "./types";
import { utf8Length } from "./utf8";

export interface QueueLimits {
  /** At most this many events; the oldest go first. */
  maxEvents: number;
  /** At most this many bytes of serialized events; the oldest go first. */
  maxBytes: number;
  /** A page holds at most this many events... */
  pageEvents: number;
  /** ...and this many bytes (or one event, if it alone is larger). */
  pageBytes: number;
}

export interface QueuedEvent {
  event: OtaEvent;
  bytes: number;
}

interface Page {
  id: number;
  items: QueuedEvent[];
  bytes: number;
}

interface Meta {
  v: 1;
  pages: number[];
  next: number;
}

export class PersistentQueue {
  private pages: Page[] = [];
  private nextPage = 0;
  private count = 0;
  private totalBytes = 0;
  private readonly dirty = new Set<number>();
  private readonly removed = new Set<number>();
  private metaDirty = false;
  private writing: Promise<void> = Promise.resolve();
  private scheduled: Promise<void> | null = null;

  constructor(
    private readonly storage: StorageAdapter,
    private readonly prefix: string,
    private readonly limits: QueueLimits,
    private readonly onStorageError: (error: unknown) => void,
  ) {}

  get size(): number {
    return this.count;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Reads what an earlier run left. Unreadable entries are reported and skipped, never fatal. */
  async load(): Promise<void> {
    let meta: Meta | null = null;
    try {
      const raw = await this.storage.getItem(this.metaKey);
      if (raw !== null) meta = parseMeta(raw);
    } catch (error) {
      this.onStorageError(error);
    }
    if (meta === null) return;
    this.nextPage = Math.max(meta.next, ...meta.pages.map((id) => id + 1)); // never reuse a listed page's id
    for (const id of meta.pages) {
      try {
        const raw = await this.storage.getItem(this.pageKey(id));
        const events = raw === null ? [] : (JSON.parse(raw) as OtaEvent[]);
        if (!Array.isArray(events)) throw new Error(`queue page ${id} is not an array`);
        const items = events.map((event) => ({ event, bytes: utf8Length(JSON.stringify(event)) }));
        this.pages.push({ id, items, bytes: items.reduce((sum, item) => sum + item.bytes, 0) });
        this.count += items.length;
        this.totalBytes += this.pages[this.pages.length - 1]!.bytes;
      } catch (error) {
        this.onStorageError(error);
      }
    }
  }

  /** Appends an event; returns the events dropped to stay within bounds, oldest first, never one in `keep`. */
  push(item: QueuedEvent, keep: ReadonlySet<string>): OtaEvent[] {
    let tail = this.pages[this.pages.length - 1];
    const { pageEvents, pageBytes } = this.limits;
    if (!tail || tail.items.length >= pageEvents || (tail.items.length > 0 && tail.bytes + item.bytes > pageBytes)) {
      tail = { id: this.nextPage++, items: [], bytes: 0 };
      this.pages.push(tail);
      this.metaDirty = true;
    }
    tail.items.push(item);
    tail.bytes += item.bytes;
    this.count += 1;
    this.totalBytes += item.bytes;
    this.dirty.add(tail.id);
    return this.trim(keep);
  }

  /** The oldest events, in order, as many as `accept` takes (it sees each one and the running totals). */
  head(accept: (item: QueuedEvent, taken: number, takenBytes: number) => boolean): QueuedEvent[] {
    const taken: QueuedEvent[] = [];
    let bytes = 0;
    for (const page of this.pages) {
      for (const item of page.items) {
        if (!accept(item, taken.length, bytes)) return taken;
        taken.push(item);
        bytes += item.bytes;
      }
    }
    return taken;
  }

  /** Whether an event with this id is queued. */
  includes(eventId: string): boolean {
    return this.pages.some((page) => page.items.some((item) => item.event.event_id === eventId));
  }

  /** Removes the events with these ids, wherever they are (ids no longer queued are ignored). */
  remove(ids: ReadonlySet<string>): void {
    for (const page of this.pages) {
      const kept = page.items.filter((item) => !ids.has(item.event.event_id));
      if (kept.length === page.items.length) continue;
      const bytes = kept.reduce((sum, item) => sum + item.bytes, 0);
      this.count -= page.items.length - kept.length;
      this.totalBytes -= page.bytes - bytes;
      page.items = kept;
      page.bytes = bytes;
      this.dirty.add(page.id);
    }
    this.dropEmptyPages();
  }

  /** Resolves once every change made so far is stored (or its write failed and was reported). */
  persist(): Promise<void> {
    if (this.scheduled) return this.scheduled;
    const run = this.writing.then(() => {
      this.scheduled = null;
      return this.write();
    });
    this.scheduled = run;
    this.writing = run;
    return run;
  }

  private trim(keep: ReadonlySet<string>): OtaEvent[] {
    const dropped: OtaEvent[] = [];
    const over = () => this.count > this.limits.maxEvents || this.totalBytes > this.limits.maxBytes;
    for (const page of this.pages) {
      if (!over()) break;
      const kept: QueuedEvent[] = [];
      for (const item of page.items) {
        if (over() && !keep.has(item.event.event_id)) {
          dropped.push(item.event);
          this.count -= 1;
          this.totalBytes -= item.bytes;
          page.bytes -= item.bytes;
        } else kept.push(item);
      }
      if (kept.length !== page.items.length) {
        page.items = kept;
        this.dirty.add(page.id);
      }
    }
    this.dropEmptyPages();
    return dropped;
  }

  private dropEmptyPages(): void {
    const empty = this.pages.filter((page) => page.items.length === 0);
    if (empty.length === 0) return;
    for (const page of empty) {
      this.removed.add(page.id);
      this.dirty.delete(page.id);
    }
    this.pages = this.pages.filter((page) => page.items.length > 0);
    this.metaDirty = true;
  }

  private async write(): Promise<void> {
    // Snapshot synchronously: later changes mark pages dirty again and go out in the next write.
    const pageWrites = this.pages
      .filter((page) => this.dirty.has(page.id))
      .map((page) => [this.pageKey(page.id), JSON.stringify(page.items.map((item) => item.event))] as const);
    const meta: Meta | null = this.metaDirty
      ? { v: 1, pages: this.pages.map((page) => page.id), next: this.nextPage }
      : null;
    const removals = [...this.removed];
    this.dirty.clear();
    this.removed.clear();
    this.metaDirty = false;
    try {
      await Promise.all(pageWrites.map(([key, value]) => this.storage.setItem(key, value)));
      if (meta) await this.storage.setItem(this.metaKey, JSON.stringify(meta));
    } catch (error) {
      // Keep everything pending: the next write stores the whole current state of these pages.
      for (const [key] of pageWrites) this.dirty.add(Number(key.slice(key.lastIndexOf("/") + 1)));
      if (meta) this.metaDirty = true;
      for (const id of removals) this.removed.add(id);
      this.onStorageError(error);
      return;
    }
    try {
      await Promise.all(removals.map((id) => this.storage.removeItem(this.pageKey(id))));
    } catch (error) {
      this.onStorageError(error); // the meta no longer lists them: a stale page is never read again
    }
  }

  private get metaKey(): string {
    return `${this.prefix}/meta`;
  }

  private pageKey(id: number): string {
    return `${this.prefix}/page/${id}`;
  }
}

function parseMeta(raw: string): Meta {
  const meta = JSON.parse(raw) as Partial<Meta>;
  if (meta.v !== 1 || !Array.isArray(meta.pages) || typeof meta.next !== "number") {
    throw new Error("the queue's meta entry has an unknown format");
  }
  return { v: 1, pages: meta.pages.filter((id) => Number.isInteger(id)), next: meta.next };
}
