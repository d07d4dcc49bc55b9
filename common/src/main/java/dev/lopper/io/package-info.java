/**
 * Reading and writing files through the Hadoop FileSystem API ({@code file://}, {@code hdfs://},
 * {@code s3a://}): safetensors, Parquet and CSV tables, and outputs that are never left
 * half-written.
 */
package dev.lopper.io;
