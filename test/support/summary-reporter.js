/** Prints one plain closing line CI tools can read: "jest: N passed, N failed, N skipped". */
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    process.stdout.write(
      `\njest: ${results.numPassedTests} passed, ${results.numFailedTests} failed, ${results.numPendingTests + results.numTodoTests} skipped\n`,
    );
  }
}
