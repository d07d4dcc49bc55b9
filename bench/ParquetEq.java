import dev.lopper.io.ParquetTables;
import dev.lopper.io.Table;
import java.util.Arrays;
import java.util.List;
import org.apache.hadoop.conf.Configuration;

/**
 * Compares Parquet files pairwise by schema and values, as Lopper reads them ({@code ParquetTables}):
 * {@code java -cp <classpath> bench/ParquetEq.java a1 b1 a2 b2 ...}; used by bench/same-outputs.sh.
 */
public class ParquetEq {
  public static void main(String[] args) {
    int bad = 0;
    for (int i = 0; i < args.length; i += 2) {
      Table a = ParquetTables.read(args[i], new Configuration());
      Table b = ParquetTables.read(args[i + 1], new Configuration());
      boolean same = a.columns().equals(b.columns()) && a.rows().size() == b.rows().size();
      for (int r = 0; same && r < a.rows().size(); r++) {
        List<Object> x = a.rows().get(r), y = b.rows().get(r);
        for (int c = 0; same && c < x.size(); c++) {
          Object u = x.get(c), v = y.get(c);
          same = Arrays.deepEquals(new Object[] {u}, new Object[] {v});
        }
      }
      if (!same) { System.out.println("PARQUET DIFF " + args[i]); bad++; }
    }
    System.out.println("parquet files compared: " + args.length / 2 + ", different: " + bad);
  }
}
