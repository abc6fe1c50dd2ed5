/** Where the queue lives between app starts: AsyncStorage's interface, so AsyncStorage itself fits. */

export interface StorageAdapter {
  getItem(key: string): Promise<string | null>;
  setItem(key: string, value: string): Promise<void>;
  removeItem(key: string): Promise<void>;
}

/** Storage in memory: events survive no restart. For tests, and as the default when none is given. */
export class MemoryStorage implements StorageAdapter {
  readonly items = new Map<string, string>();

  async getItem(key: string): Promise<string | null> {
    return this.items.has(key) ? this.items.get(key)! : null;
  }

  async setItem(key: string, value: string): Promise<void> {
    this.items.set(key, String(value));
  }

  async removeItem(key: string): Promise<void> {
    this.items.delete(key);
  }
}
