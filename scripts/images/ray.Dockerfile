# The Ray image the dev stack and the tests run, built here without any registry (scripts/images/build.sh)
# and named as the stack config names it (rayproject/ray:<version>), so manifests written for the
# published image work unchanged. Like the published image: user `ray` (uid 1000, group users/100),
# `ray` on PATH, bash, and Ray's dashboard (ray[default]) for job submission and `ray status`.
FROM docker.io/library/debian:bookworm-slim
ARG RAY_VERSION
# Only for the build: where the host's trust store is mounted (package downloads through this
# machine's TLS-intercepting gateway). It is not kept in the image.
ARG BUILD_CA=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && useradd --uid 1000 --gid 100 --create-home --shell /bin/bash ray
RUN python3 -m venv /opt/ray \
 && PIP_CERT="$BUILD_CA" /opt/ray/bin/pip install --no-cache-dir --disable-pip-version-check "ray[default]==${RAY_VERSION}" \
 && /opt/ray/bin/python -c "import ray, sys; assert ray.__version__ == '${RAY_VERSION}', ray.__version__" \
 && find /opt/ray -name __pycache__ -prune -exec rm -rf {} +
ENV PATH=/opt/ray/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 1000:100
WORKDIR /home/ray
CMD ["/bin/bash"]
