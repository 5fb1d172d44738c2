/**
 * Everything the runner uses from the AWS SDK, in one module that the bundle carries apart from
 * the rest (components/runner-bundle.ts): it is about half of the bundle's code, and only S3
 * destinations and CloudWatch metrics need it. Import it only through loadAwsSdk().
 */
export * as s3 from "@aws-sdk/client-s3";
export { Upload } from "@aws-sdk/lib-storage";
export * as cloudwatch from "@aws-sdk/client-cloudwatch";
