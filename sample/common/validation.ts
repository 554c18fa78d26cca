import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsEmail, IsNotEmpty, IsString, MaxLength, MinLength } from 'class-validator';

export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 128;
export const EMAIL_MAX_LENGTH = 254;

/** A trimmed, lower-cased email address of at most 254 characters. Non-strings are left for IsEmail to refuse. */
export const IsAccountEmail = () =>
  applyDecorators(
    Transform(({ value }) => (typeof value === 'string' ? value.trim().toLowerCase() : value)),
    IsString(),
    MaxLength(EMAIL_MAX_LENGTH),
    IsEmail(),
  );

/** A new password: 8 to 128 characters. */
export const IsNewPassword = () => applyDecorators(IsString(), MinLength(PASSWORD_MIN_LENGTH), MaxLength(PASSWORD_MAX_LENGTH));

/** A password being checked (login, re-authentication): any non-empty string up to the maximum length. */
export const IsGivenPassword = () => applyDecorators(IsString(), IsNotEmpty(), MaxLength(PASSWORD_MAX_LENGTH));
