/**
 * Policy checks on assigning a visit (R8, R9): Category 2 and red-rated visits are not suitable for
 * lone working; a worker without lone-working training, or whose training is older than the refresh
 * interval, or a new starter, may not be the primary worker on one. Config says whether a breach is
 * refused or flagged.
 */
import type { VisitRecord, WorkerRecord } from '../store/store-types.js';

export interface VisitPolicyRules {
  /** refuse: the visit is not recorded; flag: recorded with a warning. */
  onBreach: 'refuse' | 'flag';
  trainingValidYears: number;
}

export interface PolicyFinding {
  code: 'category2_lone' | 'red_lone' | 'training_missing' | 'training_expired' | 'new_starter_category2';
  field: string;
  message: string;
}

export interface VisitPolicyResult {
  errors: PolicyFinding[];
  warnings: PolicyFinding[];
}

export function checkVisitPolicy(
  visit: Pick<VisitRecord, 'ref' | 'riskCategory' | 'rag' | 'secondWorkerId' | 'scheduledStart'>,
  worker: Pick<WorkerRecord, 'id' | 'name' | 'trainingDate' | 'newStarter'>,
  rules: VisitPolicyRules,
): VisitPolicyResult {
  const findings: PolicyFinding[] = [];
  const highRisk = visit.riskCategory === 2 || visit.rag === 'red';
  if (visit.riskCategory === 2 && !visit.secondWorkerId) {
    findings.push({ code: 'category2_lone', field: 'secondWorkerId', message: `Visit ${visit.ref} is Category 2: not suitable for lone working; a second worker is required` });
  } else if (visit.rag === 'red' && !visit.secondWorkerId) {
    findings.push({ code: 'red_lone', field: 'secondWorkerId', message: `Visit ${visit.ref} is rated red: no lone working, at least two staff` });
  }
  if (!worker.trainingDate) {
    findings.push({ code: 'training_missing', field: 'workerId', message: `${worker.name} has no lone-working training on record` });
  } else {
    const trained = Date.parse(worker.trainingDate + 'T00:00:00Z');
    const expires = new Date(trained);
    expires.setUTCFullYear(expires.getUTCFullYear() + rules.trainingValidYears);
    if (expires.getTime() < visit.scheduledStart) {
      findings.push({
        code: 'training_expired',
        field: 'workerId',
        message: `${worker.name}'s lone-working training (${worker.trainingDate}) is older than ${rules.trainingValidYears} years`,
      });
    }
  }
  if (highRisk && worker.newStarter) {
    findings.push({ code: 'new_starter_category2', field: 'workerId', message: `${worker.name} is a new starter and may not be primary worker on a high-risk visit until trained` });
  }
  return rules.onBreach === 'refuse' ? { errors: findings, warnings: [] } : { errors: [], warnings: findings };
}
