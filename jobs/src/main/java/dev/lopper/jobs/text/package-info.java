/**
 * Text into a transformer's inputs, on one machine and without Spark: {@link
 * dev.lopper.jobs.text.TextTokenizer} wraps a Hugging Face {@code tokenizer.json}, {@link
 * dev.lopper.jobs.text.TextTokenization} turns a Parquet column of text into {@code input_ids},
 * {@code attention_mask} and {@code token_type_ids} ({@code lopper tokenize}).
 */
package dev.lopper.jobs.text;
