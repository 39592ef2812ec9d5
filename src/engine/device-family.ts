/**
 * What "the same device" means for `new_device`: the client's `deviceId` when it sends one
 * (apps do), else the browser and operating system families read from the user agent —
 * never the full user agent, whose version numbers change with every update and would make
 * each upgrade look like a new device. The result is a short digest, so the log holds no
 * raw device identifier, plus a readable label ("Firefox on Linux") for people.
 */
import { createHash } from "node:crypto";

export interface DeviceFamily {
  /** base64url SHA-256 prefix; equal for the same device (or browser and OS family). */
  readonly fingerprint: string;
  /** e.g. "Firefox on Linux", "device", "unknown browser on Windows". */
  readonly label: string;
}

/** Checked in order: Edge and Opera say "Chrome" too, Chrome says "Safari". */
const BROWSERS: readonly (readonly [RegExp, string])[] = [
  [/\bEdg(?:e|A|iOS)?\//, "Edge"],
  [/\bOPR\/|\bOpera\b/, "Opera"],
  [/\bFirefox\/|\bFxiOS\//, "Firefox"],
  [/\bChrom(?:e|ium)\/|\bCriOS\//, "Chrome"],
  [/\bSafari\//, "Safari"],
  [/\bcurl\//, "curl"],
];

const SYSTEMS: readonly (readonly [RegExp, string])[] = [
  [/\bAndroid\b/, "Android"],
  [/\biPhone\b|\biPad\b|\biOS\b/, "iOS"],
  [/\bWindows\b/, "Windows"],
  [/\bMac OS X\b|\bMacintosh\b/, "macOS"],
  [/\bCrOS\b/, "ChromeOS"],
  [/\bLinux\b/, "Linux"],
];

function family(userAgent: string, table: readonly (readonly [RegExp, string])[]): string | null {
  for (const [pattern, name] of table) if (pattern.test(userAgent)) return name;
  return null;
}

/** The device a login came from, or null when there is nothing to tell devices apart by. */
export function deviceFamily(deviceId: string | null, userAgent: string | null): DeviceFamily | null {
  if (deviceId !== null) return { fingerprint: digest(`d:${deviceId}`), label: "device" };
  if (userAgent === null || userAgent === "") return null;
  const browser = family(userAgent, BROWSERS);
  const system = family(userAgent, SYSTEMS);
  // An agent we cannot place (a script's own name) counts as itself, without its version.
  const key = browser === null && system === null ? userAgent.replace(/[\d.]+/g, "") : `${browser}/${system}`;
  return {
    fingerprint: digest(`ua:${key}`),
    label: `${browser ?? "unknown browser"}${system === null ? "" : ` on ${system}`}`,
  };
}

function digest(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}
