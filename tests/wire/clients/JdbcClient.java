// PostgreSQL JDBC (pgJDBC) against `sqlvec serve`: prints one "name<TAB>value" line per check, so
// that tests/wire/test_wire_jdbc.py can assert every result. Usage: java JdbcClient PORT DBNAME
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

public class JdbcClient {
    static void out(String name, Object value) {
        System.out.println(name + "\t" + value);
    }

    /** The named columns of every row, "a|b;a|b". */
    static String rows(ResultSet rs, String... columns) throws SQLException {
        List<String> rows = new ArrayList<>();
        while (rs.next()) {
            List<String> cells = new ArrayList<>();
            for (String c : columns) {
                cells.add(String.valueOf(rs.getObject(c)));
            }
            rows.add(String.join("|", cells));
        }
        rs.close();
        return String.join(";", rows);
    }

    interface Meta {
        String get() throws SQLException;
    }

    /** One DatabaseMetaData call: its rows, or "ERROR sqlstate message" so that the rest run. */
    static void meta(String name, Meta call) {
        try {
            out(name, call.get());
        } catch (SQLException e) {
            out(name, "ERROR " + e.getSQLState() + " " + e.getMessage().split("\n")[0]);
        }
    }

    public static void main(String[] args) throws Exception {
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/" + args[1] + "?user=postgres";
        try (Connection conn = DriverManager.getConnection(url)) {
            try (Statement st = conn.createStatement()) {
                st.execute("CREATE TABLE authors (id int PRIMARY KEY, name text NOT NULL)");
                st.execute("CREATE TABLE books (id int PRIMARY KEY, author_id int REFERENCES "
                        + "authors (id), title varchar(100), emb vector(3))");
                st.execute("CREATE INDEX books_title_idx ON books (title)");
                st.execute("CREATE VIEW book_titles AS SELECT id, title FROM books");
                st.execute("INSERT INTO authors VALUES (1, 'ann'), (2, 'bob')");
                try (ResultSet rs = st.executeQuery("SELECT id, name FROM authors ORDER BY id")) {
                    out("statement", rows(rs, "id", "name"));
                }
            }

            // 8 executions: from the 5th on, pgJDBC uses a named server-side statement
            try (PreparedStatement ps = conn.prepareStatement(
                    "INSERT INTO books VALUES (?, ?, ?, ?::vector)")) {
                for (int i = 1; i <= 8; i++) {
                    ps.setInt(1, i);
                    ps.setInt(2, 1 + i % 2);
                    ps.setString(3, "title " + i);
                    ps.setString(4, "[" + i + "," + i + "," + i + "]");
                    ps.executeUpdate();
                }
            }
            List<String> seen = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT title, emb::text AS emb FROM books WHERE id = ?")) {
                for (int i = 1; i <= 8; i++) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        seen.add(rs.getString("title") + "=" + rs.getString("emb"));
                    }
                }
            }
            out("prepared", String.join(",", seen));

            // a fetch size needs a transaction (a portal read with Execute row limits)
            conn.setAutoCommit(false);
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id FROM books WHERE author_id = ? ORDER BY id")) {
                ps.setFetchSize(2);
                ps.setInt(1, 2);
                try (ResultSet rs = ps.executeQuery()) {
                    out("fetchsize", rows(rs, "id"));
                }
            }
            conn.commit();

            // a nearest-neighbour query with a vector parameter
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id FROM books ORDER BY emb <-> ?::vector LIMIT 3")) {
                ps.setString(1, "[2.2,2.2,2.2]");
                try (ResultSet rs = ps.executeQuery()) {
                    out("knn", rows(rs, "id"));
                }
            }
            conn.commit();

            // transaction: rollback then commit
            try (Statement st = conn.createStatement()) {
                st.executeUpdate("DELETE FROM books WHERE id > 6");
                conn.rollback();
                st.executeUpdate("UPDATE authors SET name = 'ann2' WHERE id = 1");
                conn.commit();
                try (ResultSet rs = st.executeQuery(
                        "SELECT (SELECT count(*) FROM books) AS n, name FROM authors WHERE id = 1")) {
                    out("transaction", rows(rs, "n", "name"));
                }
            }
            conn.commit();

            // an error: SQLSTATE and position; the transaction is then aborted until rollback
            try (Statement st = conn.createStatement()) {
                try {
                    st.executeQuery("SELECT nosuch FROM books");
                    out("error", "none");
                } catch (org.postgresql.util.PSQLException e) {
                    out("error", e.getSQLState() + "|" + e.getServerErrorMessage().getPosition()
                            + "|" + e.getServerErrorMessage().getMessage());
                }
                try {
                    st.executeQuery("SELECT 1");
                    out("aborted", "none");
                } catch (SQLException e) {
                    out("aborted", e.getSQLState());
                }
                conn.rollback();
            }
            conn.setAutoCommit(true);

            DatabaseMetaData md = conn.getMetaData();
            out("product", md.getDatabaseProductName() + "|" + md.getDatabaseMajorVersion());
            meta("tables", () -> rows(md.getTables(null, "public", "%", new String[] {"TABLE"}),
                    "TABLE_NAME", "TABLE_TYPE"));
            meta("views", () -> rows(md.getTables(null, "public", "%", new String[] {"VIEW"}),
                    "TABLE_NAME", "TABLE_TYPE"));
            meta("columns", () -> rows(md.getColumns(null, "public", "books", "%"),
                    "COLUMN_NAME", "TYPE_NAME", "ORDINAL_POSITION", "IS_NULLABLE"));
            meta("pk", () -> rows(md.getPrimaryKeys(null, "public", "books"),
                    "COLUMN_NAME", "KEY_SEQ", "PK_NAME"));
            meta("indexes", () -> rows(md.getIndexInfo(null, "public", "books", false, false),
                    "INDEX_NAME", "NON_UNIQUE", "COLUMN_NAME"));
            meta("fk", () -> rows(md.getImportedKeys(null, "public", "books"),
                    "PKTABLE_NAME", "PKCOLUMN_NAME", "FKCOLUMN_NAME", "FK_NAME"));
            meta("schemas", () -> rows(md.getSchemas(), "TABLE_SCHEM"));
            meta("typeinfo", () -> {
                ResultSet rs = md.getTypeInfo();
                int n = 0;
                while (rs.next()) {
                    n++;
                }
                rs.close();
                return n > 0 ? "some" : "none";
            });
        }
    }
}
