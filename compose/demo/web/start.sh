#!/bin/sh
# Refuses to start without its secrets: the seed's "secrets left empty" failure, made loud.
if [ -z "$DB_PASSWORD" ] || [ -z "$APP_SECRET" ]; then
  echo "FATAL: DB_PASSWORD or APP_SECRET is empty" >&2
  exit 1
fi
sed "s/@GREETING@/${GREETING:-Hello}/" /www/index.html.in > /www/index.html
echo "web: serving on :8080"
exec httpd -f -v -p 8080 -h /www
