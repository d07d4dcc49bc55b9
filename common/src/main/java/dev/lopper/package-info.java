/** Lopper's core library: what every part shares, such as the exception for bad input. */
package dev.lopper;
