export { ErrorCode, isErrorCode } from './codes.js';
export { HopError, errorCodeOf, errorMessageOf } from './hop-error.js';
