"""Apache Airflow provider for the Alibaba Cloud Model Studio (DashScope) model compression API."""

__version__ = "0.1.0"
