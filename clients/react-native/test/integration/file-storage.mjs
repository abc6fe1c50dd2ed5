// AsyncStorage's interface over one file per key, for the integration scripts: a write is a rename, so a process
// killed mid-write leaves the old value or the new one, never half of one (as AsyncStorage's own store does).

import { mkdirSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export class FileStorage {
  constructor(dir) {
    this.dir = dir;
    this.writes = 0;
    mkdirSync(dir, { recursive: true });
  }

  path(key) {
    return join(this.dir, encodeURIComponent(key));
  }

  async getItem(key) {
    try {
      return await readFile(this.path(key), "utf8");
    } catch (error) {
      if (error.code === "ENOENT") return null;
      throw error;
    }
  }

  async setItem(key, value) {
    const tmp = `${this.path(key)}.${process.pid}.${++this.writes}.tmp`;
    await writeFile(tmp, value);
    await rename(tmp, this.path(key));
  }

  async removeItem(key) {
    await rm(this.path(key), { force: true });
  }
}
