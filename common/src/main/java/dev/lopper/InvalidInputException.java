package dev.lopper;

/**
 * A caller's input is wrong: a file, column, tensor or configuration value that Lopper cannot use.
 *
 * <p>The message names what was wrong and where (file, column, tensor or key), and says what was
 * expected and what was found, so that it can be shown to a person as it is. Command-line entry
 * points turn it into exit code 2.
 */
public class InvalidInputException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public InvalidInputException(String message) {
    super(message);
  }

  public InvalidInputException(String message, Throwable cause) {
    super(message, cause);
  }
}
