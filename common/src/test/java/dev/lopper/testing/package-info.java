/** Test support shared by the modules' tests: where the sample data lives, tools on the machine. */
package dev.lopper.testing;
