import type { ContainerFacts } from "../../../src/proxy/model.js";

/** A compose container as the daemon sees it after inspect; override what a test is about. */
export function containerFacts(overrides: Partial<ContainerFacts> = {}): ContainerFacts {
  const project = overrides.project ?? "shop";
  const service = overrides.service ?? "web";
  return {
    id: `${project}-${service}-id`,
    name: `${project}-${service}-1`,
    labels: {},
    project,
    service,
    workingDir: `/home/deploy/apps/${project}/current`,
    oneoff: false,
    state: "exited",
    exitCode: 0,
    startedAt: "2026-11-30T10:00:00Z",
    finishedAt: "2026-11-30T11:00:00Z",
    addresses: {},
    dependsOn: [],
    published: [],
    ...overrides,
  };
}

/** A container of `project`'s `service` carrying these proxy labels. */
export function labelled(labels: Record<string, string>, overrides: Partial<ContainerFacts> = {}): ContainerFacts {
  return containerFacts({ ...overrides, labels });
}
