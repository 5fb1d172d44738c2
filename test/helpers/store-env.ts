// The environment of a media-only store-format backup into a folder, as the store's e2e tests run it.

/** `media` backed up to `file://dest` in the store format under `key`, no database; `extra` added last. */
export function fileStoreEnv(
  dest: string,
  media: string,
  key: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    BACKUP_DESTINATION: `file://${dest}`,
    BACKUP_DATABASE: "false",
    MEDIA_DIR: media,
    MEDIA_FORMAT: "store",
    MEDIA_STORE_KEY: key,
    ...extra,
  };
}
