// BACKUP_DESTINATION: s3:// and file:/// URLs, and every hostile spelling of a folder refused.
import { describe, expect, it } from "vitest";
import { parseDestination } from "../../runner/src/settings/destination.js";

describe("destinations", () => {
  it("parses s3 and file URLs", () => {
    expect(parseDestination("s3://edms-backups")).toMatchObject({ kind: "s3", bucket: "edms-backups", prefix: "" });
    expect(parseDestination("s3://edms-backups/a/b/")).toMatchObject({ kind: "s3", prefix: "a/b" });
    expect(parseDestination("file:///var/backups/edms/")).toMatchObject({ kind: "file", root: "/var/backups/edms" });
    expect(parseDestination("/var/backups")).toMatch(/must be a URL/);
  });

  // Hostile spellings of a folder (issue 10, item 8): each is a sentence (exit 2), never a path
  // the operator did not name, never a thrown TypeError (exit 1).
  it.each([
    ["file:relative", /needs three slashes and an absolute path/],
    ["file:/abs", /needs three slashes/],
    ["FILE:x", /needs three slashes/],
    ["file:///", /is the root folder/],
    ["file:////", /is the root folder/],
    ["file:///.", /is the root folder/],
    ["file:///tmp/..", /is the root folder/],
    ["file:///a%2Fb", /encoded "\/" \(%2F\)/],
    ["file:///a%2fb", /encoded "\/"/],
    ["file:///a%00b", /NUL/],
    ["file://host/x", /need an absolute path/],
    ["file:///x?y=1", /no \?query or #fragment/],
    ["file:///x#y", /no \?query or #fragment/],
  ])("refuses %s", (value, expected) => {
    expect(parseDestination(value)).toMatch(expected);
  });

  it.each([
    ["file:///var/backups/edms", "/var/backups/edms"],
    ["file:///var/backups/./edms/../edms/", "/var/backups/edms"],
    ["file:///with%20space/r%C3%A9sum%C3%A9", "/with space/résumé"],
  ])("reads %s as %s", (value, root) => {
    expect(parseDestination(value)).toMatchObject({ kind: "file", root });
  });
});
