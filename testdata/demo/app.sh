#!/bin/sh
echo "$GREETING: $APP_NAME $APP_VERSION"
cat /app/greeting.txt
