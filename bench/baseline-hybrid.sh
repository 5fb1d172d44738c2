#!/usr/bin/env bash
# Today's approach, as the seed (docs of scripts/backup-hybrid.sh) describes it, minus docker:
# pg_dump -Fc to a file, `tar czf` of the media, a manifest, then `tar czf` of the bundle into
# the backups folder, and removal of the temporary folder.
# Usage: baseline-hybrid.sh BACKUP_DIR MEDIA_DIR   (libpq PG* variables name the database)
set -euo pipefail
backup_dir=$1
media_dir=$2
stamp=$(date +%Y%m%d_%H%M%S)
tmp="$backup_dir/tmp_$stamp"
mkdir -p "$tmp"
pg_dump -Fc -f "$tmp/database.dump"
tar czf "$tmp/storage.tar.gz" -C "$media_dir" .
cat > "$tmp/manifest.json" <<JSON
{"timestamp": "$(date -Iseconds)", "database": "database.dump", "storage": "storage.tar.gz", "backup_type": "full", "created_by": "backup-hybrid.sh"}
JSON
tar czf "$backup_dir/backup_$stamp.tar.gz" -C "$backup_dir" "tmp_$stamp"
rm -rf "$tmp"
