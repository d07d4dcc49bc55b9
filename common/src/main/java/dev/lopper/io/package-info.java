/**
 * Reading and writing files through the Hadoop FileSystem API ({@code file://}, {@code hdfs://},
 * {@code s3a://}): safetensors, Parquet and CSV tables, and outputs that are never left
 * half-written; and {@link dev.lopper.io.RowSchema}, which derives a table's columns from the record
 * type of its rows, so that the tables Lopper writes and reads back are built from typed rows.
 */
package dev.lopper.io;
