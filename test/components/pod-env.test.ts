// The one translation of a rendered container's environment into a process environment, used by
// the rendered-pod test (host processes) and the image test (podman): the kubelet's rules.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { containerEnv, expandVars } from "../image/pod-env.js";

const objects = {
  configMaps: { settings: { A: "from-map", B: "map-b" } },
  secrets: { creds: { A: "from-secret", TOKEN: "t0k$(A)" } },
};

describe("a container's environment as the kubelet builds it", () => {
  it("applies envFrom in order, then env in order; later entries win and remember where they came from", () => {
    const { env, fromSecrets } = containerEnv(
      {
        envFrom: [{ configMapRef: { name: "settings" } }, { secretRef: { name: "creds" }, prefix: "S_" }],
        env: [
          { name: "B", valueFrom: { secretKeyRef: { name: "creds", key: "TOKEN" } } },
          { name: "S_A", value: "plain" },
          { name: "C", valueFrom: { configMapKeyRef: { name: "settings", key: "A" } } },
        ],
      },
      objects,
    );
    // A value from a Secret is never expanded: $(A) stays as it is.
    expect(env).toEqual({ A: "from-map", B: "t0k$(A)", S_A: "plain", S_TOKEN: "t0k$(A)", C: "from-map" });
    expect([...fromSecrets].sort()).toEqual(["B", "S_TOKEN"]);
  });

  it("expands $(VAR) in values from the entries before, keeps unknown references and $$ escapes", () => {
    const { env } = containerEnv(
      {
        env: [
          { name: "X", value: "one" },
          { name: "Y", value: "$(X)-$(LATER)-$$(X)-$(NOPE)" },
          { name: "LATER", value: "two" },
        ],
      },
      { configMaps: {}, secrets: {} },
    );
    expect(env.Y).toBe("one-$(LATER)-$(X)-$(NOPE)");
  });

  it("leaves optional references that are missing unset, and refuses required ones and other sources", () => {
    const none = { configMaps: {}, secrets: {} };
    expect(
      containerEnv(
        {
          envFrom: [{ secretRef: { name: "gone", optional: true } }],
          env: [{ name: "H", valueFrom: { secretKeyRef: { name: "gone", key: "k", optional: true } } }],
        },
        none,
      ).env,
    ).toEqual({});
    expect(() => containerEnv({ envFrom: [{ configMapRef: { name: "gone" } }] }, none)).toThrow(
      /ConfigMap gone is missing/,
    );
    expect(() =>
      containerEnv({ env: [{ name: "P", valueFrom: { secretKeyRef: { name: "creds", key: "nope" } } }] }, objects),
    ).toThrow(/env P: Secret creds key nope is missing/);
    expect(() =>
      containerEnv({ env: [{ name: "N", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }] }, objects),
    ).toThrow(/env N: only value, secretKeyRef and configMapKeyRef/);
  });

  it("expandVars never changes text without a reference, whatever it holds", () => {
    fc.assert(
      fc.property(
        fc.string().filter((s) => !s.includes("$")),
        (text) => {
          expect(expandVars(text, { A: "x" })).toBe(text);
        },
      ),
    );
  });
});
