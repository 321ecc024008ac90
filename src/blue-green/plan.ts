/**
 * A zero-downtime deploy's plan (issue 17, /work/notes/switch-design.md): what the detached
 * worker runs in place of a plain `up -d`. Made from the compose model and deploy-vps.yml when
 * deploying, kept in the release's metadata so that a rollback takes the same path back.
 */

/** The proxy path: a routed service deployed as a second container of itself, switched to once ready. */
export interface BlueGreenService {
  /** The compose service. */
  service: string;
  /** The proxy's unit (route) name: the compose project for labelled stacks. */
  unit: string;
  /** How long the old container's exchanges may go on once the route left it. */
  drainSeconds: number;
  /** How long the new container has to become ready. */
  readySeconds: number;
}

/** The seed's primary/standby layout: two compose services, the standby serving while the primary is recreated. */
export interface StandbyLayout {
  primary: string;
  standby: string;
  /** Each one's published host port: `{port}` in the health URL. */
  primaryPort: number;
  standbyPort: number;
  /** The container port each one serves on, for the proxy's switch (0: unknown, the route's own port). */
  primaryContainerPort: number;
  standbyContainerPort: number;
  /** The stack's other services that a plain `up -d` starts (no profile): updated after the switch. */
  others: string[];
  /** The health URL as written, `{port}` not yet replaced. */
  health: string;
  intervalSeconds: number;
  timeoutSeconds: number;
  drainSeconds: number;
  /** The environment variable that turns the crons on: only the primary may have it on. */
  cronVariable: string;
  /** The proxy's unit whose route goes to the primary, when one does: the switch drains through it. */
  unit: string;
}

export interface ZeroDowntimePlan {
  blueGreen: BlueGreenService[];
  standby?: StandbyLayout;
}
