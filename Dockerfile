# The project's image: the target service, the payment provider and Locust (master or worker).
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml constraints.txt README.md ./
COPY harness harness
COPY target_service target_service
COPY chaos chaos
COPY invariants invariants
COPY locustfiles locustfiles
RUN pip install --no-cache-dir -c constraints.txt .
RUN useradd --system --uid 10001 app
USER app
CMD ["python", "-m", "target_service"]
