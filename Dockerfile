# Placeholder: the production image Dockerfile is written in its own change.
FROM scratch
