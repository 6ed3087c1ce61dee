"""Apache Airflow provider for Cloudflare RealtimeKit track recordings.

Import the pieces from their modules (``airflow_provider_rtk.operators.recording`` and so on): this
package itself imports nothing heavy, so DAG files that use it stay quick to parse.
"""

__version__ = "0.1.0"
