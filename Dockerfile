# helios-emulator: a 2N Helios IP intercom for CI, on ports 8080 (HTTP), 8443 (HTTPS) and 8554
# (RTSP, live H.264 at /h264_stream; a device uses 554).
#   docker build -t helios-emulator .
#   docker run --rm -p 8080:8080 -p 8443:8443 -p 8554:8554 helios-emulator
# Every option is an environment variable too: HELIOS_PROFILE, HELIOS_AUTH, HELIOS_USER, ...
# The control plane (/_emulator) answers only clients inside the container unless given a token:
#   docker run --rm -p 8080:8080 -e HELIOS_CONTROL_TOKEN=t0ken helios-emulator
# (tests then send "Authorization: Bearer t0ken"; HELIOS_CONTROL_TOKEN_FILE reads it from a file).

FROM python:3.12-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY emulator ./emulator
COPY profiles ./profiles
COPY assets ./assets
RUN python3 -m venv /opt/helios \
 && /opt/helios/bin/pip install --no-compile '.[speed]' \
 && /opt/helios/bin/pip uninstall -y pip \
 && find /opt/helios -name '__pycache__' -prune -exec rm -rf {} + \
 && /opt/helios/bin/python -m compileall -q /opt/helios/lib

FROM python:3.12-slim
COPY --from=build /opt/helios /opt/helios
# A fixed non-root user in group 0, with a group-writable home, so it also runs under an
# arbitrary uid (OpenShift).
RUN useradd --system --uid 10001 --gid 0 --home-dir /var/lib/helios --create-home --shell /usr/sbin/nologin helios \
 && mkdir -p /var/lib/helios/state /var/lib/helios/profiles \
 && chown -R 10001:0 /var/lib/helios && chmod -R g=u /var/lib/helios
ENV PATH=/opt/helios/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HELIOS_HOST=0.0.0.0 \
    HELIOS_PORT=8080 \
    HELIOS_HTTPS_PORT=8443 \
    HELIOS_RTSP_PORT=8554 \
    HELIOS_STATE_DIR=/var/lib/helios/state
USER 10001
WORKDIR /var/lib/helios
# The state directory keeps the HTTPS certificate and the configuration across restarts; custom
# profiles can be mounted into /var/lib/helios/profiles (HELIOS_PROFILE=/var/lib/helios/profiles/x.toml).
VOLUME ["/var/lib/helios"]
EXPOSE 8080 8443 8554
# Liveness: healthy = the liveness endpoint says every listener serves AND /api/system/info answers
# the 2N envelope, or the emulated device is rebooting on a test's request (see
# emulator/healthcheck.py). /_emulator/ready is the readiness endpoint (503 while it reboots).
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python3", "-m", "emulator.healthcheck"]
# SIGTERM: stop accepting, end long-polls and streams, save the configuration, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["helios-emulator"]
