/**
 * What a person recognises a session by: browser, operating system and device class,
 * parsed from the user agent recorded at sign-in with `bowser` (MIT; `ua-parser-js` 2.x is
 * AGPL). A user agent is whatever the client sent, so every part may be missing and every
 * part is escaped where it is shown.
 */
import Bowser from "bowser";

export interface DeviceDescription {
  /** "Chrome 131", "Safari 17.2", or "Unknown browser". */
  readonly browser: string;
  /** "macOS 14.2", or "unknown OS". */
  readonly os: string;
  /** "Desktop", "Phone", "Tablet", "TV", or "Unknown device". */
  readonly kind: string;
}

const KINDS: Readonly<Record<string, string>> = {
  desktop: "Desktop",
  mobile: "Phone",
  tablet: "Tablet",
  tv: "TV",
  bot: "Bot",
};

export function describeDevice(userAgent: string | null): DeviceDescription {
  if (userAgent === null || userAgent.trim() === "") {
    return { browser: "Unknown browser", os: "unknown OS", kind: "Unknown device" };
  }
  let parsed: Bowser.Parser.ParsedResult;
  try {
    parsed = Bowser.parse(userAgent);
  } catch {
    return { browser: "Unknown browser", os: "unknown OS", kind: "Unknown device" };
  }
  const browser = joined(parsed.browser.name, majorMinor(parsed.browser.version)) ?? "Unknown browser";
  const os = joined(parsed.os.name, parsed.os.versionName ?? majorMinor(parsed.os.version)) ?? "unknown OS";
  const kind = KINDS[parsed.platform.type ?? ""] ?? "Unknown device";
  return { browser, os, kind };
}

function joined(name: string | undefined, version: string | undefined): string | null {
  if (name === undefined || name === "") return null;
  return version === undefined || version === "" ? name : `${name} ${version}`;
}

/** "131.0.6778.85" → "131", "17.2.1" → "17.2": enough to tell versions apart, short enough to read. */
function majorMinor(version: string | undefined): string | undefined {
  const [major, minor] = version?.split(".") ?? [];
  if (major === undefined || major === "") return undefined;
  return minor === undefined || minor === "0" ? major : `${major}.${minor}`;
}
