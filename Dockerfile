# The harvester as a container image: one `harvest` command per container run.
#
#   docker build -t harvester .
#   docker run --rm --env-file /etc/harvester/harvester.env -v harvester-state:/var/lib/harvester \
#     harvester useractions -b 10000
#
# Nothing secret is baked in: credentials come from --env-file, the environment, or an instance
# role. Logs are JSON lines on stderr (HARVEST_LOG_FORMAT=json) for the platform's log collector;
# stdout carries data only when a command's output is "-".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HARVEST_LOG_FORMAT=json \
    HARVEST_STATE_DIR=/var/lib/harvester

# A system user without a login shell owns the only writable place: the state directory
# (local checkpoints and lock files when S3/Redis are not configured).
RUN groupadd --system --gid 10001 harvester \
 && useradd --system --uid 10001 --gid harvester --home-dir /var/lib/harvester --create-home \
      --shell /usr/sbin/nologin harvester

WORKDIR /usr/src/harvester

# Pinned runtime dependencies first: this layer is reused while only the code changes.
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The build context is what .dockerignore lets through: the package, its data files (index
# templates, pipelines, Kibana objects, installed under /usr/local/share/harvester where
# `harvest setup load-index-templates` finds them) and nothing local (.env, state, tests, .git).
COPY . ./
RUN pip install --no-deps . && cd / && rm -rf /usr/src/harvester

USER harvester
WORKDIR /var/lib/harvester
VOLUME ["/var/lib/harvester"]

ENTRYPOINT ["harvest"]
CMD ["--help"]
