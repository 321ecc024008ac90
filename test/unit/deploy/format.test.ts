import { describe, expect, it } from "vitest";
import { count, formatBytes, formatDuration, uploadProgress } from "../../../src/deploy/format.js";

describe("formatBytes", () => {
  it("rounds to whole bytes below a kilobyte, one decimal below ten units", () => {
    expect(formatBytes(909.0909)).toBe("909 B");
    expect(formatBytes(1234567)).toBe("1.2 MB");
    expect(formatBytes(25_460_000)).toBe("25 MB");
  });
});

describe("formatDuration", () => {
  it("says seconds, then minutes and seconds", () => {
    expect(formatDuration(0.2)).toBe("1 s");
    expect(formatDuration(42.4)).toBe("42 s");
    expect(formatDuration(75)).toBe("1 min 15 s");
  });
});

describe("uploadProgress", () => {
  it("gives the rate at once, and the share packed and the time left once there is enough to go on", () => {
    expect(uploadProgress({ sent: 500_000, packed: 600_000, total: 10_000_000, elapsedMs: 500 })).toBe("500 kB sent, 1.0 MB/s");
    expect(uploadProgress({ sent: 2_500_000, packed: 2_500_000, total: 10_000_000, elapsedMs: 2000 })).toBe(
      "2.5 MB sent, 1.3 MB/s, 25 %, about 6 s left",
    );
    expect(uploadProgress({ sent: 9_000_000, packed: 10_000_000, total: 10_000_000, elapsedMs: 8000 })).toBe("9.0 MB sent, 1.1 MB/s, 100 %");
  });
});

describe("count", () => {
  it("puts the noun in the plural but for one", () => {
    expect([count(0, "folder"), count(1, "folder"), count(2, "file")]).toEqual(["0 folders", "1 folder", "2 files"]);
  });
});
