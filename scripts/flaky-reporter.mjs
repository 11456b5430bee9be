// A vitest reporter that records every test that failed and then passed on a retry (CI runs with
// one retry). Flaky tests are not hidden: scripts/test.mjs prints them in a banner at the end of
// the run, so each one is visible in CI output and can be fixed.
import { writeFileSync } from 'node:fs';

export default class FlakyReporter {
  flaky = [];

  onTestCaseResult(testCase) {
    const diagnostic = testCase.diagnostic();
    if (diagnostic?.flaky) {
      this.flaky.push({
        file: testCase.module.moduleId.replace(`${process.cwd()}/`, ''),
        test: testCase.fullName,
        retries: diagnostic.retryCount,
      });
    }
  }

  onTestRunEnd() {
    const file = process.env.EDGELOOP_FLAKY_REPORT;
    if (file) writeFileSync(file, JSON.stringify(this.flaky, null, 2));
  }
}
