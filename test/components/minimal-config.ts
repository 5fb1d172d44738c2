/** The smallest stack config the schema accepts (namespace, database, identity): what config tests start from. */
export const MINIMAL_CONFIG = {
  namespace: "edms",
  database: { host: "db", name: "edms", user: "backup", secretName: "edms-db", cidr: "10.0.0.0/16" },
  identity: { kind: "podIdentity", clusterName: "prod" },
};
