import type { Awaited, ContainerFacts, Dependency, DependencyFacts, Need, Requirement } from "../../../src/proxy/model.js";
import { containerFacts } from "./facts.js";

/** A compose container `project-service-1` (id `project/service`), stopped unless told. */
export function compose(project: string, service: string, overrides: Partial<ContainerFacts> = {}): ContainerFacts {
  return containerFacts({ id: `${project}/${service}`, name: `${project}-${service}-1`, project, service, ...overrides });
}

/** A container compose did not make (the seed's `docker run` ones), by its name. */
export function plain(name: string, overrides: Partial<ContainerFacts> = {}): ContainerFacts {
  const facts: ContainerFacts = { ...containerFacts({ id: name, name }), ...overrides };
  delete facts.project;
  delete facts.service;
  delete facts.workingDir;
  return facts;
}

export const dependsOn = (service: string, condition: Dependency["condition"] = "service_started"): Dependency => ({ service, condition });

/** `deploy-vps.proxy.requires` (or `wants`) as parsed: `project/service` or a container name. */
export function requirement(target: string, until: Awaited = "ready", need: Need = "required"): Requirement {
  const [project, service] = target.split("/");
  return {
    target: service === undefined || project === undefined ? { container: target } : { project, service },
    until,
    need,
    source: "test",
  };
}

/** Declared facts by container id. */
export function declared(entries: Record<string, Partial<DependencyFacts>>): Map<string, DependencyFacts> {
  return new Map(Object.entries(entries).map(([id, facts]) => [id, { requirements: [], ...facts }]));
}
